package main

import "testing"

// serve sets the Go runtime's soft memory limit from --memory-limit
// (TOKENLEDGER_MEMORY_LIMIT); "auto" leaves a GOMEMLIMIT the operator set
// as it is, and "off" removes it.
func TestServeSetsTheMemoryLimitItIsGiven(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"size", []string{"TOKENLEDGER_MEMORY_LIMIT=96MiB"}, "1.00663296e+08"},
		{"GOMEMLIMIT under auto", []string{"GOMEMLIMIT=200MiB"}, "2.097152e+08"},
		{"off over GOMEMLIMIT", []string{"GOMEMLIMIT=200MiB", "TOKENLEDGER_MEMORY_LIMIT=off"}, "9.223372036854776e+18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serveMetric(t, "go_gc_gomemlimit_bytes", tt.env...); got != tt.want {
				t.Fatalf("go_gc_gomemlimit_bytes = %s, want %s", got, tt.want)
			}
		})
	}
}

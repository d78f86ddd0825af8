package service

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// --memory-limit reads auto, off and GOMEMLIMIT's sizes, and refuses
// anything else.
func TestMemoryLimitFlagReadsGOMEMLIMITSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"auto", MemoryLimitAuto, true},
		{"OFF", MemoryLimitOff, true},
		{"80MiB", 80 << 20, true},
		{"2GiB", 2 << 30, true},
		{"1TiB", 1 << 40, true},
		{"512KiB", 512 << 10, true},
		{"1000000B", 1000000, true},
		{"1048576", 1 << 20, true},
		{"0", 0, false},
		{"-5MiB", 0, false},
		{"80MB", 0, false},
		{"lots", 0, false},
		{"9999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseMemoryLimit(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// "auto" honours GOMEMLIMIT, else takes 90 % of the cgroup's limit (v2,
// then v1), else sets none; an explicit size or off wins over both.
func TestMemoryLimitAutoFollowsGOMEMLIMITThenTheCgroup(t *testing.T) {
	write := func(t *testing.T, root, file, v string) {
		t.Helper()
		p := filepath.Join(root, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v2 := t.TempDir()
	write(t, v2, "memory.max", "1073741824")
	v2max := t.TempDir()
	write(t, v2max, "memory.max", "max")
	v1 := t.TempDir()
	write(t, v1, "memory/memory.limit_in_bytes", "209715200")
	v1unlimited := t.TempDir()
	write(t, v1unlimited, "memory/memory.limit_in_bytes", "9223372036854771712")
	none := t.TempDir()
	noEnv := func(string) string { return "" }
	withEnv := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "300MiB"
		}
		return ""
	}
	tests := []struct {
		name       string
		configured int64
		getenv     func(string) string
		root       string
		want       int64
	}{
		{"cgroup v2", MemoryLimitAuto, noEnv, v2, 966367641},
		{"cgroup v2 unlimited", MemoryLimitAuto, noEnv, v2max, 0},
		{"cgroup v1", MemoryLimitAuto, noEnv, v1, 188743680},
		{"cgroup v1 unlimited", MemoryLimitAuto, noEnv, v1unlimited, 0},
		{"no cgroup", MemoryLimitAuto, noEnv, none, 0},
		{"GOMEMLIMIT left to the runtime", MemoryLimitAuto, withEnv, v2, 0},
		{"explicit size", 64 << 20, withEnv, v2, 64 << 20},
		{"explicit off", MemoryLimitOff, withEnv, v2, math.MaxInt64},
	}
	for _, tt := range tests {
		if got, source := memoryLimitFor(tt.configured, tt.getenv, tt.root); got != tt.want || source == "" {
			t.Errorf("%s: limit %d (%s), want %d", tt.name, got, source, tt.want)
		}
	}
}

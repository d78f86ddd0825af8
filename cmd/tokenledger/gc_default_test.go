package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// serveMetric starts tokenledger serve (this test binary acting as it)
// with env added to the environment without GOGC, reads the named gauge
// from /metrics and stops it.
func serveMetric(t *testing.T, name string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--nats-listen", "off", "--data-dir", t.TempDir())
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "TOKENLEDGER_TEST_RUN_MAIN=1", "INIT_ADMIN_API_TOKENS="+servicetest.AdminSecret), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stderr)
	var url string
	for url == "" && lines.Scan() {
		var entry struct {
			Msg  string `json:"msg"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal(lines.Bytes(), &entry) == nil && entry.Msg == "tokenledger serving" {
			url = entry.HTTP
		}
	}
	if url == "" {
		t.Fatal("the service never logged that it serves")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return ""
}

// Without GOGC, serve collects garbage when the heap has grown by half
// (not doubled), to keep its resident memory near its live heap; GOGC set
// by the operator still rules.
func TestServeCollectsGarbageAtHalfTheLiveHeapUnlessGOGCIsSet(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"GOGC unset", nil, "50"},
		{"GOGC set", []string{"GOGC=100"}, "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serveMetric(t, "go_gc_gogc_percent", tt.env...); got != tt.want {
				t.Fatalf("go_gc_gogc_percent = %s, want %s", got, tt.want)
			}
		})
	}
}

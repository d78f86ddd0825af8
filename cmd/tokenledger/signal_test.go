package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestMain lets the test binary act as the tokenledger command, so the
// signal test runs the real main without building another binary.
func TestMain(m *testing.M) {
	if os.Getenv("TOKENLEDGER_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The serve command runs with its defaults plus a data dir and ports, and
// SIGTERM or SIGINT shut it down cleanly (exit 0), keeping the data.
func TestServe_ShutsDownCleanlyOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--data-dir", dir)
			cmd.Env = append(os.Environ(), "TOKENLEDGER_TEST_RUN_MAIN=1", "INIT_ADMIN_API_TOKENS="+servicetest.AdminSecret)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
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
			resp, err := http.Get(url + "/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/health = %d", resp.StatusCode)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest strings.Builder
			for lines.Scan() {
				rest.WriteString(lines.Text() + "\n")
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after %v: %v\n%s", sig, err, rest.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("still running 20 s after %v", sig)
			}
			if !strings.Contains(rest.String(), "shutting down") || strings.Contains(rest.String(), `"level":"ERROR"`) {
				t.Fatalf("shutdown log:\n%s", rest.String())
			}
			if _, err := os.Stat(dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

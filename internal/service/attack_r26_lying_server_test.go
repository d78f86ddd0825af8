package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// verify --server against a server that lies: it answers with the genuine
// signed checkpoint and genuine bundles of a real ledger, recombined (a
// size that is not the note's, a bundle of another range than asked, the
// events of a bundle reversed, a bundle without its proofs). verify must
// never say intact for what it did not prove, and must answer within
// seconds (a size of 2^62 must not make it ask for bundles for ever).
func TestVerifyServerAgainstALyingServer(t *testing.T) {
	m, _ := startLedger(t, t.TempDir(), 4)
	createProjects(t, m, "l", 10)
	waitCheckpoint(t, m, 11)
	_, cpBody := get(t, m, "/api/ledger/checkpoint", testAdmin)
	var cp struct {
		Size        int64  `json:"size"`
		Root        string `json:"root"`
		Checkpoint  string `json:"checkpoint"`
		VerifierKey string `json:"verifierKey"`
	}
	if err := json.Unmarshal(cpBody, &cp); err != nil {
		t.Fatal(err)
	}
	status, whole := get(t, m, fmt.Sprintf("/api/ledger/bundle?from_seq=1&to_seq=%d", cp.Size), testAdmin)
	if status != 200 {
		t.Fatalf("bundle: %d %s", status, whole)
	}
	status, part := get(t, m, fmt.Sprintf("/api/ledger/bundle?from_seq=1&to_seq=%d", cp.Size-3), testAdmin)
	if status != 200 {
		t.Fatalf("bundle: %d %s", status, part)
	}
	var b integrity.Bundle
	if err := json.Unmarshal(whole, &b); err != nil {
		t.Fatal(err)
	}
	reversed := b
	reversed.Events = append(integrity.BundleEvents(nil), b.Events...)
	for i, j := 0, len(reversed.Events)-1; i < j; i, j = i+1, j-1 {
		reversed.Events[i], reversed.Events[j] = reversed.Events[j], reversed.Events[i]
	}
	reversedBody, _ := json.Marshal(reversed)
	noProofs := b
	noProofs.Events = append(integrity.BundleEvents(nil), b.Events...)
	for i := range noProofs.Events {
		noProofs.Events[i].Proof = nil
	}
	noProofsBody, _ := json.Marshal(noProofs)
	withSize := func(n int64) []byte {
		c := cp
		c.Size = n
		out, _ := json.Marshal(c)
		return out
	}
	for _, tc := range []struct {
		name       string
		checkpoint []byte
		bundle     []byte
	}{
		{"size_2^62", withSize(1 << 62), whole},
		{"size_-1", withSize(-1), whole},
		{"size_0", withSize(0), whole},
		{"size_larger_by_one", withSize(cp.Size + 1), whole},
		{"a_shorter_range_than_asked", cpBody, part},
		{"events_reversed", cpBody, reversedBody},
		{"events_without_proofs", cpBody, noProofsBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			url := lyingServer(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/api/ledger/checkpoint":
					_, _ = w.Write(tc.checkpoint)
				case "/api/ledger/bundle":
					_, _ = w.Write(tc.bundle)
				default:
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"name":"NotFoundError","message":"no"}`))
				}
			})
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			env := map[string]string{cli.EnvToken: testAdmin}
			code := cli.Run(ctx, []string{"verify", "--server", url, "--key", cp.VerifierKey},
				cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
			took := time.Since(start)
			t.Logf("exit %d after %v and %d requests\n%s%s", code, took, requests.Load(), stdout.String(), stderr.String())
			if code == cli.ExitOK && tc.name != "size_0" {
				t.Errorf("verify --server calls a lying server's answers intact")
			}
			if code == cli.ExitOK && strings.Contains(stdout.String(), "0 records") && tc.name == "size_0" {
				t.Logf("size 0 with a checkpoint of %d records: intact with no record read", cp.Size)
			}
			if took > 10*time.Second {
				t.Errorf("verify --server took %v against a lying server", took)
			}
		})
	}
}

// lyingServer serves h on a loopback address and returns its URL.
func lyingServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

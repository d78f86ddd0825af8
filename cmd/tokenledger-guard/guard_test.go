package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/feedtest"
)

const (
	guardSecret   = "default:production.guard-test-secret-0123456789abcdef"
	revokedSecret = "default:production.guard-test-revoked-0123456789abcd"
)

// The guard forwards a request with a valid token to the upstream without
// the secret and with the token's id (a header the client forged is
// replaced), and refuses a revoked token without reaching the upstream.
func TestGuardForwardsOnlyValidTokensWithoutTheirSecret(t *testing.T) {
	l := feedtest.Start(t)
	tok := l.Create(t, guardSecret, nil)
	gone := l.Create(t, revokedSecret, nil)
	l.Revoke(t, gone)

	seen := make(chan http.Header, 4)
	base := startGuard(t, l, seen, "upstream")
	do := func(secret string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set(headerTokenID, "forged")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The guard is ready once caught up with the feed, which the ledger
	// fills a moment after each append: wait for the revocation.
	// "unknown token" means the guard has not seen the token's creation
	// yet: wait until it names the revocation.
	deadline := time.Now().Add(feedtest.Wait)
	for {
		status, body := do(revokedSecret)
		if status == http.StatusUnauthorized && strings.Contains(body, "revoked") {
			break
		}
		if status == http.StatusOK {
			<-seen // it went through before the revocation arrived
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard does not refuse the revoked token as revoked (%d %s)", status, body)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
	if status, body := do(guardSecret); status != http.StatusOK || body != "upstream" {
		t.Fatalf("valid token: %d %s", status, body)
	}
	h := <-seen
	if h.Get("Authorization") != "" || h.Get(headerTokenID) != tok.ID || h.Get(headerTokenType) == "" {
		t.Fatalf("upstream got Authorization %q, token id %q, type %q", h.Get("Authorization"), h.Get(headerTokenID), h.Get(headerTokenType))
	}
	if status, body := do(revokedSecret); status != http.StatusUnauthorized || strings.Contains(body, "upstream") {
		t.Fatalf("revoked token: %d %s", status, body)
	}
	select {
	case h := <-seen:
		t.Fatalf("a refused request reached the upstream: %v", h)
	default:
	}
}

// startGuard runs the guard against l's feed in front of an upstream that
// sends each request's headers to seen and answers body, and returns the
// guard's base URL. Cleanup stops both and reports a failed run.
func startGuard(t *testing.T, l *feedtest.Ledger, seen chan<- http.Header, body string) string {
	t.Helper()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upSrv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		_, _ = io.WriteString(w, body)
	})}
	go func() { _ = upSrv.Serve(up) }()
	t.Cleanup(func() { _ = upSrv.Close() })

	ctx, cancel := context.WithCancel(feedtest.Ctx(t))
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--nats-url", l.URL(), "--nkey-seed", l.SeedFile, "--listen", "127.0.0.1:0",
			"--upstream", "http://" + up.Addr().String()}, func(string) string { return "" }, io.Discard, func(a string) { addr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run = %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatalf("run = %v", err)
	}
	return ""
}

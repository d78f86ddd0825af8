package verifier_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// serve runs h on a real HTTP server on loopback until the test ends.
func serve(t *testing.T, h http.Handler) string {
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

// get sends GET url with the Authorization header auth (none when "")
// and returns the status, the WWW-Authenticate header and the body.
func get(t *testing.T, url, auth string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// The middleware lets a valid token through (to a handler that sees it),
// answers 401 invalid_token for a revoked or unknown one and 401 without
// a token, never echoing the secret, and 503 while the feed is lost.
func TestMiddlewareLetsOnlyValidTokensThrough(t *testing.T) {
	l := feedtest.Start(t)
	a, b := l.Create(t, secretA, nil), l.Create(t, secretB, nil)
	v := connect(t, l, verifier.Config{MaxStaleness: 400 * time.Millisecond})
	waitApplied(t, v, b.Last)
	waitApplied(t, v, l.Revoke(t, b))
	url := serve(t, v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := verifier.TokenFrom(r.Context())
		if !ok {
			t.Error("the handler got no token")
			return
		}
		fmt.Fprint(w, "hello "+tok.ID)
	})))
	cases := []struct {
		name, auth string
		status     int
		challenge  string
		body       string
	}{
		{"bearer valid", "Bearer " + secretA, 200, "", "hello " + a.ID},
		{"bare valid", secretA, 200, "", "hello " + a.ID},
		{"revoked", "Bearer " + secretB, 401, `error="invalid_token"`, "token revoked"},
		{"unknown", "Bearer default:production.unknown", 401, `error="invalid_token"`, "unknown token"},
		{"none", "", 401, `Bearer realm="tokenledger"`, "missing_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, challenge, body := get(t, url, tc.auth)
			if status != tc.status || !strings.Contains(challenge, tc.challenge) || !strings.Contains(body, tc.body) {
				t.Fatalf("got %d %q %s, want %d %q containing %q", status, challenge, body, tc.status, tc.challenge, tc.body)
			}
			if strings.Contains(body, "secret-") {
				t.Fatalf("the answer repeats the secret: %s", body)
			}
		})
	}
	l.Stop()
	eventually(t, "the middleware fails closed", func() error {
		if status, _, body := get(t, url, "Bearer "+secretA); status != http.StatusServiceUnavailable {
			return errors.New(body)
		}
		return nil
	})
}

package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/feedtest"
)

// The upstream trusts the guard's X-Tokenledger-* headers, so no header a
// client sends may reach it under a name an upstream reads as one of
// them: not a variant with underscores (CGI, WSGI, Rack, PHP and nginx's
// underscores_in_headers all map X_Tokenledger_Token_Id and
// X-Tokenledger-Token-Id to the same HTTP_X_TOKENLEDGER_TOKEN_ID), no
// other name in the guard's X-Tokenledger- namespace, and no underscore
// variant of the X-Forwarded- headers the guard sets either.
func TestGuardUpstreamSeesNoClientHeaderInItsNamespace(t *testing.T) {
	l := feedtest.Start(t)
	tok := l.Create(t, guardSecret, nil)

	seen := make(chan http.Header, 1)
	base := startGuard(t, l, seen, "")

	forged := []string{
		"X_Tokenledger_Token_Id",
		"x_tokenledger_token_type",
		"X-Tokenledger_Token-Environment",
		"X-Tokenledger-Token-Projects",
		"X-Tokenledger-Token-All-Projects",
		"X_Forwarded_For",
		"x_forwarded_host",
		"X-Forwarded_Proto",
	}
	send := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
		req.Header.Set("Authorization", "Bearer "+guardSecret)
		for _, name := range forged {
			req.Header[name] = []string{"forged"} // sent as written, not canonicalised
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// The token reaches the guard's feed a moment after its append.
	deadline := time.Now().Add(feedtest.Wait)
	for status := send(); status != http.StatusOK; status = send() {
		if time.Now().After(deadline) {
			t.Fatalf("valid token: status %d", status)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
	var h http.Header
	select {
	case h = <-seen:
	case <-time.After(feedtest.Wait):
		t.Fatal("the request did not reach the upstream")
	}
	if h.Get(headerTokenID) != tok.ID {
		t.Fatalf("upstream got token id %q, want %q", h.Get(headerTokenID), tok.ID)
	}
	var smuggled []string
	for name, vs := range h {
		norm := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if !strings.HasPrefix(norm, "x-tokenledger-") && !strings.HasPrefix(norm, "x-forwarded-") {
			continue
		}
		for _, v := range vs {
			if v == "forged" {
				smuggled = append(smuggled, name+": "+v)
			}
		}
	}
	if len(smuggled) > 0 {
		t.Fatalf("client headers reached the upstream in the guard's namespace: %v", smuggled)
	}
}

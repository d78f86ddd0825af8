package httpapi_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Every request that reaches the handler gets the one JSON error shape.
// A CONNECT in authority form (its target is host:port, so its path is
// empty) passed the canonical-path check and reached ServeMux, which
// answered net/http's text/plain "404 page not found".
func TestConnectRequestsGetTheJSONErrorShape(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	for _, target := range []string{"127.0.0.1:80", "example.com:443", "[::1]:4242"} {
		t.Run(target, func(t *testing.T) {
			r := rawRequest(t, s, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\nConnection: close\r\n\r\n")
			if r.StatusCode < 400 || r.StatusCode >= 500 {
				t.Fatalf("status %d, want 4xx", r.StatusCode)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				b, _ := io.ReadAll(r.Body)
				t.Fatalf("Content-Type %q, body %q: not the JSON error shape", ct, b)
			}
			var e struct{ ID, Name, Message string }
			if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.Name == "" || e.Message == "" {
				t.Fatalf("not the JSON error shape: %v %+v", err, e)
			}
		})
	}
}

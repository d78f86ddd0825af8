package verifier_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// A service's endpoint protected by a verifier refuses a token as soon as
// its revocation reached the verifier. The ledger here is the NATS side of
// a real one (embedded server, ledger stream, readers' feed and its
// publisher) on a loopback port; a service connects to the ledger's
// --nats-listen the same way.
func Example_revocation() {
	dir, err := os.MkdirTemp("", "verifier-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ledger, err := feedtest.Open(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ledger.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const secret = "default:production.example-secret-0123456789abcdef01234567"
	tok, err := ledger.CreateToken(ctx, secret)
	if err != nil {
		fmt.Println(err)
		return
	}

	v, err := verifier.Connect(verifier.Connection{URL: ledger.URL(), NkeySeedFile: ledger.SeedFile},
		verifier.Config{
			MaxStaleness: 10 * time.Second,
			OnRevoke: func(c verifier.Change) {
				fmt.Printf("OnRevoke: %s, reason %s\n", c.Type, c.Reason)
			},
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	// Wait until the verifier applied the token's creation (a service
	// waits for <-v.Ready(); WaitFor is read-your-writes).
	if err := v.WaitFor(ctx, tok.Last); err != nil {
		fmt.Println(err)
		return
	}

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := verifier.TokenFrom(r.Context())
		fmt.Fprintf(w, "hello, %s token of %s\n", t.Type, t.Environment)
	})
	srv := httptest.NewServer(v.Middleware(api)) // 127.0.0.1:0
	defer srv.Close()
	get := func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	get()

	seq, err := ledger.AppendEvent(ctx, tok, events.TokenRevoked{Reason: events.ReasonCompromised})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := v.WaitFor(ctx, seq); err != nil { // returns after OnRevoke ran
		fmt.Println(err)
		return
	}
	get()
	// Output:
	// 200 hello, client token of production
	// OnRevoke: token.revoked, reason compromised
	// 401 {"error":"invalid_token","message":"token revoked"}
}

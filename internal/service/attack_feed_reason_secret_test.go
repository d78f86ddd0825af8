package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A NATS reader of the token feed should see what a service following
// revocations needs (issue 10 item 1), never a secret. The feed carries
// every token event's envelope reason, which is the X-Ledger-Reason of
// the change as the caller typed it; the README's example reason is
// "leaked in CI log". An operator who revokes a token with the live secret
// of another token in the reason ("replaced by <secret>") publishes that
// secret to every reader of ledger.token.>.
func TestFeedReaderNeverReceivesASecretGivenAsAReason(t *testing.T) {
	s := startWithReaders(t, "", nil)
	nc, _ := reader(s, t)
	sub, err := nc.SubscribeSync("ledger.token.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	_, victim := s.CreateToken("client", "development")
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+victim, servicetest.AdminSecret, nil,
		"X-Ledger-Reason", "replaced by "+live)
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < 20 && time.Now().Before(deadline); n++ { // bounded: the three token events and heartbeats
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("the revocation did not reach the reader: %v", err)
		}
		if strings.Contains(string(m.Data), live) {
			t.Fatalf("the reader received a live secret on %s: %.300s", m.Subject, m.Data)
		}
		if strings.HasSuffix(m.Subject, ".revoked") && strings.Contains(m.Subject, victim) {
			return
		}
	}
	t.Fatal("the revocation did not reach the reader")
}

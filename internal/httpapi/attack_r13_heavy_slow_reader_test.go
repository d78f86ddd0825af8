package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Whole-ledger reads (the token list, a past state, a bundle) take one of
// two slots, and the rest are answered 503. The slot is held while the
// answer is written, so a client that asks and does not read holds it
// until the write timeout (2 × ReadWait + 15 s: 25 s by default): an
// auditor (READ_AUDIT_LOG) pipelines past states on two connections and
// reads nothing, and every token list, past state and bundle of everyone
// else is refused meanwhile; a new pair of requests before the timeout
// renews it (each costs one token of --mutation-rate: 2 a second, 60 a
// burst, more than the attack needs).
func TestASlowReaderDoesNotHoldAWholeLedgerReadSlot(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	createTokens(t, s, 300, "backend", "bulk-with-a-longer-name-to-fill-the-answer")
	auditor := s.CreateUser("auditor", s.CreateRole("Auditors", "root", "READ_AUDIT_LOG"))
	seq := s.LastSeq()
	one := fmt.Sprintf("GET /api/ledger/state?seq=%d HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n", seq, auditor.Secret)
	for range 2 {
		c := dialSmallWindow(t, s)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(strings.Repeat(one, 40))); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the server stopped answering them (each past state records
	// an audit read; the count stops growing once both writes block).
	last, still := s.LastSeq(), 0
	for i := 0; i < 100 && still < 5; i++ { // at most 10 s
		time.Sleep(100 * time.Millisecond)
		if now := s.LastSeq(); now != last {
			last, still = now, 0
		} else {
			still++
		}
	}
	t.Logf("the slow reader had %d past states recorded", last-seq)
	r := s.Do("GET", "/api/ledger/tokens", servicetest.AdminSecret, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("the admin's token list while an auditor does not read two past states: %d %.200s", r.Status, r.Body)
	}
}

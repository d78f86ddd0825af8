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

// GET /api/ledger/bundle builds the whole bundle (up to 20,000 events read
// from the stream, with their proofs) before it takes a whole-ledger read
// slot (heavyRead) and before the caller's budget is spent (recordRead,
// --mutation-rate): a request refused 429 (or 503, every slot taken) has
// already done all of the work those limits exist to bound. So an auditor
// out of budget still makes the server read a bundle's events per request,
// as many at once as it opens connections. 20 refused bundles must read
// from the stream less than one bundle that was answered.
func TestARefusedBundleReadsNoEvents(t *testing.T) {
	var init []string
	for i := range 300 {
		init = append(init, fmt.Sprintf("default:development.r13bundle%04dQx7kRw2mXp9LtVbN4cYh8JsGd3FfQa", i))
	}
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": strings.Join(init, ",")},
		func(c *service.Config) {
			c.MutationRate, c.MutationBurst = 0.001, 3 // the admin's setup and the auditor's first bundle
			c.CheckpointEvery, c.CheckpointInterval = 10, 50*time.Millisecond
		})
	auditor := s.CreateUser("auditor", s.CreateRole("Auditors", "root", "READ_AUDIT_LOG"))
	servicetest.WaitFor(t, 10*time.Second, func() error {
		if r := s.Do("GET", "/api/ledger/checkpoint", auditor.Secret, nil); r.Status != http.StatusOK {
			return fmt.Errorf("checkpoint: %d", r.Status)
		}
		return nil
	})
	outBytes := func() int64 {
		v, err := s.NATSServer().Varz(nil)
		if err != nil {
			t.Fatal(err)
		}
		return v.OutBytes
	}
	const path = "/api/ledger/bundle?from_seq=1&to_seq=300"
	before := outBytes()
	first := s.Do("GET", path, auditor.Secret, nil)
	if first.Status != http.StatusOK {
		t.Fatalf("first bundle: %d %.300s", first.Status, first.Body)
	}
	one := outBytes() - before
	// Spend the rest of the auditor's budget.
	for range 3 {
		if r := s.Do("GET", "/api/ledger/events?limit=1", auditor.Secret, nil); r.Status == http.StatusTooManyRequests {
			break
		}
	}
	before = outBytes()
	for range 20 {
		r := s.Do("GET", path, auditor.Secret, nil)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("a bundle past the budget: %d %.200s", r.Status, r.Body)
		}
	}
	refused := outBytes() - before
	t.Logf("the stream sent %d bytes for one answered bundle (%d bytes), %d for 20 refused ones", one, len(first.Body), refused)
	if refused >= one {
		t.Fatalf("20 bundles refused 429 made the stream send %d bytes, more than the %d of one answered bundle", refused, one)
	}
}

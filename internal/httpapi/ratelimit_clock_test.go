package httpapi_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// /edge/validate charges its unknown tokens at the time of the answer:
// golang.org/x/time/rate moves a bucket's clock back to a past time it is
// given, so a charge at the request's start would hand the address the
// refill of a slow request's whole duration a second time. An address that
// spent its budget stays out of budget when a slow request finishes. (The
// slow request is held open for 3 s of the ledger's clock; the refill rate
// is 1 a second.)
func TestSlowRequestDoesNotRefillTheAddressBudget(t *testing.T) {
	const burst = 3
	s, clock := startWithClockedBudget(t, burst)
	c := s.Dial()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	body := `{"tokens":["*:development.slow-guess"]}`
	if _, err := fmt.Fprintf(c, "POST /edge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after 100 Continue
		t.Fatal(err)
	}
	clock.Advance(3 * time.Second) // a slow client; the bucket is full meanwhile

	// Spend the budget now, with fast failures.
	for range burst {
		s.Must(http.StatusUnauthorized, "GET", "/api/admin/user", "guess", nil)
	}
	checkTooMany(t, s.Do("GET", "/api/admin/user", "guess", nil))

	// The slow request finishes: one more unknown token.
	if _, err := c.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Body.Close()

	// The address is still out of budget (it is in debt by one).
	r2 := s.Do("GET", "/api/admin/user", "guess", nil)
	if r2.Status != http.StatusTooManyRequests {
		t.Fatalf("after a slow request the address is no longer limited: status %d", r2.Status)
	}
}

// startWithClockedBudget starts the service with an unknown-token budget
// of burst per address, refilled at 1 a second of a clock the test moves.
func startWithClockedBudget(t *testing.T, burst int) (*servicetest.Service, *servicetest.Clock) {
	t.Helper()
	clock := servicetest.NewClock(time.Now())
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.UnauthRate, c.UnauthBurst = 1, burst
		c.Now = clock.Now
	})
	return s, clock
}

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// /edge/validate charges its unknown tokens at the time the request
// started, not when they were verified, and golang.org/x/time/rate moves a
// bucket's clock back to a time in the past it is given. So a request whose
// body arrives slowly hands the address the refill of its whole duration a
// second time: after the address spent its budget and got 429, a slow
// request finishing made it unlimited again. (The slow request is held
// open for 3 s; the refill rate is 1 a second.)
func TestSlowRequestDoesNotRefillTheAddressBudget(t *testing.T) {
	const burst = 3
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 1, burst })
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	time.Sleep(3 * time.Second) // a slow client; the bucket is full meanwhile

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

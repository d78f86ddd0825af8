package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// guesses is n distinct unknown token strings, tagged so that two batches
// never share one.
func guesses(tag string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("*:development.guess-%s-%d", tag, i)
	}
	return out
}

// The per-address budget of /edge/validate is "one token per unknown token",
// but a batch spends at most a burst's worth: one request with 500 unknown
// tokens was answered in full and left the address blocked for one second,
// so batching multiplies the documented guessing rate by 1000/burst. No
// address may have more unknown tokens answered than its budget allows.
func TestEdgeValidateChargesEveryUnknownTokenOfABatch(t *testing.T) {
	const burst = 5
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, burst })
	answered := 0
	for i := range 10 { // bounded: stops at the first 429
		batch := guesses(fmt.Sprint(i), 100)
		r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": batch})
		if r.Status == http.StatusTooManyRequests {
			break
		}
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		answered += len(batch)
	}
	if answered > burst {
		t.Fatalf("the address had %d unknown tokens answered with a budget of %d", answered, burst)
	}
}

// Concurrent requests cannot overdraw an address's budget: of 16 requests
// of 200 unknown tokens sent at once with a budget of 200, only as many
// unknown tokens are answered as the budget holds (a check before each
// request and a charge after it would let them all pass).
func TestConcurrentEdgeValidationsCannotOverdrawTheAddressBudget(t *testing.T) {
	const (
		n     = 16
		batch = 200
	)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, batch })
	conns := make([]net.Conn, n)
	last := make([]byte, n)
	for i := range n {
		c := s.Dial()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		body := `{"tokens":["` + strings.Join(guesses(fmt.Sprint(i), batch), `","`) + `"]}`
		req := fmt.Sprintf("POST /edge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// Everything but the last byte now; the last bytes all at once.
		if _, err := c.Write([]byte(req[:len(req)-1])); err != nil {
			t.Fatal(err)
		}
		conns[i], last[i] = c, req[len(req)-1]
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		answered int
		statuses = map[int]int{}
	)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := conns[i].Write([]byte{last[i]}); err != nil {
				t.Error(err)
				return
			}
			r, err := http.ReadResponse(bufio.NewReader(conns[i]), nil)
			if err != nil {
				t.Error(err)
				return
			}
			_ = r.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			statuses[r.StatusCode]++
			if r.StatusCode == http.StatusOK {
				answered += batch
			}
		}()
	}
	close(start)
	wg.Wait()
	if answered > batch {
		t.Fatalf("%d concurrent requests had %d unknown tokens answered with a budget of %d (statuses %v)", n, answered, batch, statuses)
	}
}

package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// /edge/validate checks the address's budget (blocked) when the headers
// arrive and charges the batch (takeN) when the body has been read. A
// refused batch is charged only down to a burst below empty; below that it
// is free, and its Retry-After is (unknown tokens - bucket) / rate: it
// counts the batch's unknown tokens. An attacker opens connections while
// its bucket is full, sends each one's headers (with Expect: 100-continue,
// so the server's "100 Continue" says the handler is reading the body:
// the budget check is behind it), drives the bucket to its floor with the
// first bodies, then sends batches of guesses on the rest: each is refused
// for free, and its Retry-After differs by whether the batch held a valid
// token. Held connections are bounded only by the connection limit.
func TestEdgeValidateHeldBodiesCannotTestGuessesForFree(t *testing.T) {
	const burst = 10
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, burst })
	secret, _ := s.CreateToken("client", "development")

	type held struct {
		c  net.Conn
		br *bufio.Reader
	}
	body := func(tokens []string) []byte {
		b, err := json.Marshal(map[string]any{"tokens": tokens})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bodies := [][]byte{
		body(guesses("drain-a", burst)),                  // answered: the bucket is empty
		body(guesses("drain-b", burst)),                  // refused, charged: a burst below empty
		body(guesses("free-a", burst)),                   // refused, free
		body(append(guesses("free-b", burst-1), secret)), // refused, free: one valid token
		body(guesses("free-c", burst)),                   // refused, free
		body(append(guesses("free-d", burst-1), secret)), // refused, free: one valid token
	}
	conns := make([]held, len(bodies))
	for i, b := range bodies {
		c := s.Dial()
		fmt.Fprintf(c, "POST /edge/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(b))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, "100") {
			t.Fatalf("connection %d: %q, %v: want 100 Continue", i, line, err)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank line after 100 Continue
			t.Fatal(err)
		}
		conns[i] = held{c, br}
	}
	answers := make([]*http.Response, len(bodies))
	for i, b := range bodies {
		if _, err := conns[i].c.Write(b); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(conns[i].br, nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		answers[i] = resp
	}
	if answers[0].StatusCode != http.StatusOK {
		t.Fatalf("the first batch of %d guesses: %d, want 200", burst, answers[0].StatusCode)
	}
	for _, pair := range [][2]int{{2, 3}, {4, 5}} {
		a, b := answers[pair[0]], answers[pair[1]]
		if a.StatusCode != b.StatusCode || a.Header.Get("Retry-After") != b.Header.Get("Retry-After") {
			t.Errorf("two refused batches of %d strings, the second with one valid token: %d Retry-After %s and %d Retry-After %s: "+
				"the answer counts the valid tokens of a batch the address did not pay for",
				burst, a.StatusCode, a.Header.Get("Retry-After"), b.StatusCode, b.Header.Get("Retry-After"))
		}
	}
}

// The same at RFC 7009's /api/ledger/revoke, which needs no credential: a
// held body sent once the bucket is at its floor is answered 429, for
// free, when its token is unknown, and 200 when it is a live token.
func TestRevokeHeldBodiesCannotTestGuessesForFree(t *testing.T) {
	const burst = 3
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, burst })
	secret, _ := s.CreateToken("client", "development")
	var bodies []string
	for i := range 2*burst + 1 { // a burst to empty the bucket, a burst to its floor, one more: refused for free
		bodies = append(bodies, "token="+fmt.Sprintf("*:development.guess-revoke-%d", i))
	}
	bodies = append(bodies, "token="+secret) // at the floor: a live token
	type held struct {
		c  net.Conn
		br *bufio.Reader
	}
	conns := make([]held, len(bodies))
	for i, b := range bodies {
		c := s.Dial()
		fmt.Fprintf(c, "POST /api/ledger/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(b))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, "100") {
			t.Fatalf("connection %d: %q, %v: want 100 Continue", i, line, err)
		}
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		conns[i] = held{c, br}
	}
	status := make([]int, len(bodies))
	for i, b := range bodies {
		if _, err := conns[i].c.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(conns[i].br, nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		status[i] = resp.StatusCode
	}
	last, guess := status[len(status)-1], status[len(status)-2]
	if last != guess {
		t.Errorf("past its budget (statuses %v), the address was answered %d for an unknown token and %d for a live one: "+
			"an anonymous test of a guess it did not pay for", status, guess, last)
	}
}

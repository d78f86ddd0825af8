package httpapi_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// keepAlive opens a connection, sends GET /health on it and reads the
// answer, leaving the connection idle (HTTP/1.1 keep-alive).
func keepAlive(t *testing.T, s *servicetest.Service) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := s.Dial()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("a new connection was not served: %v", err)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("/health: %d", r.StatusCode)
	}
	return c, br
}

// ~20,000 idle keep-alive connections exhausted the process's file
// descriptors and /health timed out. With a cap, a new client is still
// served: the connections idle the longest are closed to make room, so the
// server never holds more than the cap.
func TestIdleConnectionsCannotCrowdOutNewClients(t *testing.T) {
	const limit = 4
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MaxConnections = limit })
	type conn struct {
		c  net.Conn
		br *bufio.Reader
	}
	var all []conn
	for range limit {
		c, br := keepAlive(t, s)
		all = append(all, conn{c, br})
	}
	// Connections that never send a request hold slots too.
	for range limit {
		c := s.For(t).Dial()
		all = append(all, conn{c, bufio.NewReader(c)})
	}
	// New clients are served, each on a fresh connection, and so is /health.
	for range limit {
		c, br := keepAlive(t, s)
		all = append(all, conn{c, br})
	}
	s.Must(http.StatusOK, "GET", "/health", "", nil)
	// The server closed all but at most the cap of them (reads see EOF or
	// a reset at once; an open connection would only time out).
	closed := make(chan bool, len(all))
	for _, c := range all {
		go func() {
			_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := c.br.ReadByte()
			closed <- errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
		}()
	}
	n := 0
	for range all {
		if <-closed {
			n++
		}
	}
	if open := len(all) - n; open > limit {
		t.Fatalf("%d of %d connections still open, cap %d", open, len(all), limit)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded)
}

// /edge/validate needs no credential, so it is a token oracle: every token
// it does not know spends one of the address's tokens, and an address out
// of tokens gets 429 with Retry-After before anything is looked at, a
// valid token included.
func TestEdgeValidateIsRateLimitedPerAddress(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, 3 })
	valid, _ := s.CreateToken("client", "development", "default")
	for i := range 3 {
		s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{"guess-" + strconv.Itoa(i)}})
	}
	for _, tokens := range [][]string{{valid}, {"guess-4"}} {
		r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": tokens})
		checkTooMany(t, r)
		if strings.Contains(string(r.Body), valid) {
			t.Fatal("a limited answer still validated the token")
		}
	}
	// The same address's wrong credentials on the API share the bucket.
	checkTooMany(t, s.Do("GET", "/api/admin/api-tokens", "guess", nil))
}

// A wrong credential (401) is the same oracle: after a burst of them, the
// address gets 429 for every credentialed request, valid or not, until its
// bucket refills. Requests without failures are never charged, and /health
// is never limited.
func TestFailedAuthenticationsAreRateLimitedPerAddress(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, 3 })
	for range 5 {
		s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil) // valid: not charged
	}
	for range 3 {
		s.Must(http.StatusUnauthorized, "GET", "/api/admin/api-tokens", servicetest.AdminSecret+"x", nil)
	}
	checkTooMany(t, s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret+"y", nil))
	checkTooMany(t, s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil))
	checkTooMany(t, s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{"x"}}))
	s.Must(http.StatusOK, "GET", "/health", "", nil)
}

// Behind a single-sign-on proxy every request comes from the proxy's
// address: bearer failures through it must not lock out users who sign in
// with the proxy's header (no credential to guess there).
func TestBearerFailuresDoNotLockOutAuthProxyUsers(t *testing.T) {
	const header = "X-Forwarded-User"
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.UnauthRate, c.UnauthBurst = 0.001, 3
		ssoProxy(header)(c)
	})
	s.CreateUser("sso", "Viewer")
	for range 3 {
		s.Must(http.StatusUnauthorized, "GET", "/api/admin/api-tokens", "guess", nil)
	}
	checkTooMany(t, s.Do("GET", "/api/admin/api-tokens", "guess", nil))
	s.Must(http.StatusOK, "GET", "/api/admin/user", "", nil, header, "sso")
	s.Must(http.StatusUnauthorized, "GET", "/api/admin/user", "", nil, header, "nobody")
}

// A principal looping changes (PAT create/delete) cannot flood the stream:
// each principal's changes spend its own bucket, 429 with Retry-After when
// empty, nothing appended, reads and other principals unaffected.
func TestMutationsAreRateLimitedPerPrincipal(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate, c.MutationBurst = 0.001, 4 })
	u := s.CreateUser("looper", "Viewer") // two of the admin token's four
	exp := servicetest.FromNow(time.Hour)
	for i := range 2 {
		r := s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", u.Secret, map[string]any{"description": "loop" + strconv.Itoa(i), "expiresAt": exp})
		id := int(r.JSON(t)["id"].(float64))
		s.Must(http.StatusOK, "DELETE", fmt.Sprintf("/api/admin/user/tokens/%d", id), u.Secret, nil)
	}
	before := s.LastSeq()
	checkTooMany(t, s.Do("POST", "/api/admin/user/tokens", u.Secret, map[string]any{"description": "loop9", "expiresAt": exp}))
	checkTooMany(t, s.Do("DELETE", "/api/admin/user/tokens/1", u.Secret, nil))
	if got := s.LastSeq(); got != before {
		t.Fatalf("limited requests appended %d events", got-before)
	}
	s.Must(http.StatusOK, "GET", "/api/admin/user/tokens", u.Secret, nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "other", "name": "Other"})
}

func checkTooMany(t *testing.T, r servicetest.Response) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	servicetest.CheckErrorShape(t, r)
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if name := r.JSON(t)["name"]; name != "TooManyRequestsError" {
		t.Fatalf("error name %v", name)
	}
}

// 5,000 requests with random 2,000-character methods grew /metrics to 10 MB
// and 5,147 series. Unknown methods fold into "other", unmatched paths into
// "unmatched", and the route label does not repeat the method.
func TestMetricLabelsComeFromAClosedSet(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	rng := rand.New(rand.NewPCG(1, 2))
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	for i := range 200 {
		method := random(2000)
		path := "/" + random(1+rng.IntN(200))
		if i%2 == 0 {
			method = "GET"
		}
		s.Do(method, path, "", nil)
		s.Do(method, "/api/admin/api-tokens/"+random(64), servicetest.AdminSecret, nil)
	}
	metrics := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
	series := 0
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "tokenledger_http_") {
			continue
		}
		series++
		if len(line) > 200 {
			t.Fatalf("a series carries request data: %.300s", line)
		}
		if strings.Contains(line, `route="GET `) || strings.Contains(line, `route="DELETE `) {
			t.Fatalf("route label repeats the method: %s", line)
		}
	}
	// requests_total: few (route, method, status); duration: buckets of
	// two routes.
	if series == 0 || series > 60 {
		t.Fatalf("%d tokenledger_http_ series after random methods and paths", series)
	}
	if !strings.Contains(metrics, `method="other",route="unmatched"`) {
		t.Fatal("unknown methods are not folded into \"other\"")
	}
}

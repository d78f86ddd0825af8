package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Test harness: the real service (embedded NATS with JetStream in a temp
// dir, HTTP on 127.0.0.1:0), driven through HTTP only.

// adminSecret and spareAdminSecret are the INIT_ADMIN_API_TOKENS of every
// test service.
const (
	adminSecret      = "*:*.test-admin-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	spareAdminSecret = "*:*.test-admin-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// testService is a running service and what it logged.
type testService struct {
	*Main
	t    testing.TB
	logs *syncBuffer
	dir  string
	env  map[string]string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startService runs the service on dir (a new temp dir when empty) with the
// given INIT_* variables added to the default admin tokens.
func startService(t testing.TB, dir string, env map[string]string) *testService {
	t.Helper()
	return startServiceWith(t, dir, env, nil)
}

// startServiceWith is startService with a change to the configuration.
func startServiceWith(t testing.TB, dir string, env map[string]string, change func(*Config)) *testService {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	all := map[string]string{"INIT_ADMIN_API_TOKENS": adminSecret + ", " + spareAdminSecret}
	for k, v := range env {
		all[k] = v
	}
	logs := &syncBuffer{}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: 50 * time.Millisecond,
		Replicas: 1, NoSync: true, Getenv: func(k string) string { return all[k] }, LogOutput: logs}
	if change != nil {
		change(&cfg)
	}
	m := NewMain(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatalf("start service: %v\nlogs:\n%s", err, logs.String())
	}
	s := &testService{Main: m, t: t, logs: logs, dir: dir, env: env}
	t.Cleanup(func() { _ = m.Close() })
	return s
}

// restart stops the service and starts a new one on the same data dir.
func (s *testService) restart() *testService {
	s.t.Helper()
	if err := s.Close(); err != nil {
		s.t.Fatalf("close: %v", err)
	}
	return startService(s.t, s.dir, s.env)
}

// response is an HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return v
}

// do sends a request with cred in the Authorization header ("" for none)
// and body as JSON (a string is sent as is).
func (s *testService) do(method, path, cred string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", cred)
	}
	req.Header.Set("User-Agent", "tokenledger-test/1")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must is do that fails the test unless the status is want.
func (s *testService) must(want int, method, path, cred string, body any, headers ...string) response {
	s.t.Helper()
	r := s.do(method, path, cred, body, headers...)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// lastSeq is the stream's newest sequence.
func (s *testService) lastSeq() uint64 {
	s.t.Helper()
	seq, err := s.Store.LastSequence(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return seq
}

// createToken creates a client/backend/frontend token as the admin token and
// returns its secret and id.
func (s *testService) createToken(typ, env string, projects ...string) (secret, id string) {
	s.t.Helper()
	body := map[string]any{"tokenName": "t-" + typ, "type": typ, "environment": env}
	if len(projects) > 0 {
		body["projects"] = projects
	}
	r := s.must(http.StatusCreated, "POST", "/api/admin/api-tokens", adminSecret, body)
	secret = r.JSON(s.t)["secret"].(string)
	tok, _ := s.Tokens.Lookup(secret)
	return secret, tok.ID
}

// principal is a user or service account with a PAT.
type principal struct {
	IntID  int
	Secret string
}

// createUser creates a user with a root role (name or integer id) and issues
// their first PAT on their behalf, as an Admin may.
func (s *testService) createUser(name string, rootRole any) principal {
	s.t.Helper()
	r := s.must(http.StatusCreated, "POST", "/api/admin/user-admin", adminSecret,
		map[string]any{"username": name, "email": name + "@example.com", "rootRole": rootRole})
	id := int(r.JSON(s.t)["id"].(float64))
	pat := s.must(http.StatusCreated, "POST", "/api/admin/user-admin/"+itoaInt(id)+"/tokens", adminSecret,
		map[string]any{"description": "first", "expiresAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	return principal{IntID: id, Secret: pat.JSON(s.t)["secret"].(string)}
}

// createServiceAccount creates a service account with a token.
func (s *testService) createServiceAccount(name string, rootRole any) principal {
	s.t.Helper()
	r := s.must(http.StatusCreated, "POST", "/api/admin/service-account", adminSecret,
		map[string]any{"name": name, "username": name, "rootRole": rootRole})
	id := int(r.JSON(s.t)["id"].(float64))
	tok := s.must(http.StatusCreated, "POST", "/api/admin/service-account/"+itoaInt(id)+"/token", adminSecret,
		map[string]any{"description": "ci", "expiresAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	return principal{IntID: id, Secret: tok.JSON(s.t)["secret"].(string)}
}

// createRole creates a custom role and returns its integer id.
func (s *testService) createRole(name, typ string, perms ...string) int {
	s.t.Helper()
	ps := []map[string]string{}
	for _, p := range perms {
		ps = append(ps, map[string]string{"name": p})
	}
	r := s.must(http.StatusCreated, "POST", "/api/admin/roles", adminSecret,
		map[string]any{"name": name, "type": typ, "permissions": ps})
	return int(r.JSON(s.t)["id"].(float64))
}

func itoaInt(n int) string { return itoa(uint64(n)) }

func itoa(n uint64) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// checkErrorShape asserts Unleash's error shape: {id, name, message, details[]}.
func checkErrorShape(t testing.TB, r response) {
	t.Helper()
	var e struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Message string `json:"message"`
		Details []struct {
			Message string `json:"message"`
		} `json:"details"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", r.Body)
	}
	if e.ID == "" || e.Name == "" || e.Message == "" || len(e.Details) == 0 || e.Details[0].Message == "" {
		t.Fatalf("error body lacks id/name/message/details: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}

// testClock is a clock a test moves by hand (Config.Now), so nothing
// waits for time to pass.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

// Now is the clock's reading.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fromNow is the wall-clock time d from now as the API takes it (RFC 3339,
// UTC); a negative d is in the past.
func fromNow(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

// makeStreamUnsafe gives LEDGER an age limit, as someone with access to
// the stream could, and waits (bounded) until the store noticed it through
// the update advisory and refuses writes.
func (s *testService) makeStreamUnsafe() {
	s.t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		s.t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxAge = time.Hour
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		s.t.Fatal(err)
	}
	for s.Store.Health() == nil {
		select {
		case <-ctx.Done():
			s.t.Fatal("the store never noticed the unsafe configuration")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The embedded NATS server accepts no client without credentials into the
// ledger's account: a local process publishing a forged token.created to
// ledger.token.<id>.created is refused, nothing reaches the projections,
// and the forged secret is no admin token on the HTTP API.
func TestSecurity_AnonymousNATSClientsCannotForgeEvents(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.NATSListen = "127.0.0.1:0" })
	if s.NATSURL() == "" {
		t.Fatal("embedded NATS does not listen")
	}
	nc, err := nats.Connect(s.NATSURL()) // no user, no password, no nkey
	if err != nil {
		return // refused: readers must authenticate (nats_readers_test.go covers what they may do)
	}
	defer nc.Close()
	forged := "*:*.forged-by-any-local-process-" + strings.Repeat("f", 32)
	id := "forged-admin-token"
	env, err := events.New("01JZZZZZZZZZZZZZZZZZZZZZZZ", id, events.TokenCreated{TokenType: events.TokenAdmin,
		Name: "INIT_ADMIN_API_TOKENS[9]", Environment: "*", AllProjects: true, Path: events.PathBootstrap,
		Verifier: events.VerifierHex(forged), Hint: "*:*.…"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.Actor = events.System
	if err := env.Seal(); err != nil {
		t.Fatal(err)
	}
	b, err := events.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(env.Subject(), b); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	if err := nc.LastError(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		t.Errorf("an anonymous publish to ledger.> was not refused: %v", err)
	}
	s.CatchUp() // had the publish been stored, the token set would now hold it
	r := s.Do("POST", "/api/admin/user-admin", forged, map[string]any{"username": "mallory", "rootRole": "Admin"})
	if r.Status == http.StatusCreated {
		t.Fatalf("a token forged over unauthenticated NATS created an Admin user: %s", r.Body)
	}
}

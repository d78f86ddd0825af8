package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// storedBytes is the stored form of the event at seq, exactly as the
// stream holds it (what an attacker with a NATS connection reads).
func storedBytes(t *testing.T, s *servicetest.Service, seq uint64) []byte {
	t.Helper()
	var data []byte
	if err := s.Store.ReadStored(context.Background(), seq, seq, func(_ uint64, b []byte) error { data = b; return nil }); err != nil || data == nil {
		t.Fatalf("read the stored event %d: %v", seq, err)
	}
	return data
}

// changeExpiry sets a token's expiry through the API and returns the
// token.expiry.changed event the ledger wrote (signed by its own key).
func changeExpiry(t *testing.T, s *servicetest.Service, secret string, in time.Duration) events.Envelope {
	t.Helper()
	r := s.Do("PUT", "/api/admin/api-tokens/"+secret, servicetest.AdminSecret, map[string]any{"expiresAt": servicetest.FromNow(in)})
	if r.Status >= 300 {
		t.Fatalf("change expiry: %d %s", r.Status, r.Body)
	}
	e := s.LastEvent()
	if e.Type != events.TypeTokenExpiryChanged || e.Sig == "" {
		t.Fatalf("last event %s (signed %v), want a signed token.expiry.changed", e.Type, e.Sig != "")
	}
	return e
}

// An attacker with a second NATS connection (the ledger's own access to
// an external server) cannot forge a signature, but can copy a genuine,
// signed event of the ledger and publish it again: here the
// token.expiry.changed that once gave a token a year, after an admin cut
// its life to an hour and the hour passed. The copy is signed by the
// ledger's key and its bytes match its hash, so only its place in the
// history betrays it (its prev names the token's creation, which already
// has a successor; its id is an event id the stream already holds). The
// ledger must fail closed on it, as on a forgery: the expired token never
// validates again, and the probes say the stream was tampered with.
func TestReplayedGenuineEventNeverRevivesAnExpiredToken(t *testing.T) {
	for _, tt := range []struct {
		name    string
		subject func(orig events.Envelope) string
	}{
		{"same_subject", func(orig events.Envelope) string { return orig.Subject() }},
		{"another_subject", func(orig events.Envelope) string { return "ledger.log.replayed.copy" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := servicetest.NewClock(time.Now())
			srv := natstest.RunServer(t)
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				c.NATSURL = srv.ClientURL()
				c.Now = clock.Now
			})
			secret, _ := s.CreateToken("client", "development")
			long := changeExpiry(t, s, secret, 365*24*time.Hour)
			changeExpiry(t, s, secret, time.Hour) // the admin cuts its life
			clock.Advance(2 * time.Hour)
			if got := validSecrets(s, secret); len(got) != 0 {
				t.Fatalf("the token validates after its expiry: %v", got)
			}

			data := storedBytes(t, s, long.Sequence)
			js, err := jetstream.New(natstest.Connect(t, srv))
			if err != nil {
				t.Fatal(err)
			}
			ack, err := js.Publish(context.Background(), tt.subject(long), data)
			if err != nil {
				t.Fatal(err)
			}
			servicetest.WaitFor(t, 10*time.Second, func() error {
				if s.Runner.Err() != nil || s.Runner.LastApplied() >= ack.Sequence {
					return nil
				}
				return context.DeadlineExceeded
			})

			if r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}); r.Status == http.StatusOK {
				if got := validSecrets(s, secret); len(got) != 0 {
					t.Errorf("the replayed token.expiry.changed (seq %d, a copy of seq %d) revived the expired token: /edge/validate accepts it", ack.Sequence, long.Sequence)
				}
			}
			body := s.Do("GET", "/health", "", nil).JSON(t)
			if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(ack.Sequence) {
				t.Errorf("/health = %v, want LEDGER_TAMPERED at the replayed copy's sequence %d", body, ack.Sequence)
			}
		})
	}
}

// The same copy written while the ledger is stopped (after its shutdown
// checkpoint, so only the per-event checks see it): verify must name it,
// and the restarted ledger must refuse it rather than apply it (here the
// token's expiry would jump back a year).
func TestReplayedGenuineEventWrittenOfflineIsNamedAndRefused(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("client", "development")
	long := changeExpiry(t, s, secret, 365*24*time.Hour)
	changeExpiry(t, s, secret, time.Hour)
	data := storedBytes(t, s, long.Sequence)
	if err := s.Close(); err != nil { // appends the shutdown checkpoint
		t.Fatal(err)
	}
	dir := s.Config.DataDir
	seq := publishOffline(t, dir, long.Subject(), data)

	code, rep := verifyDataDir(t, dir)
	// The README's kinds: a second successor in a chain is an insertion;
	// the honest event before it must not be blamed.
	if code != cli.ExitTampered || rep["kind"] != "insertion" || rep["seq"] != float64(seq) {
		t.Errorf("verify: exit %d, %v at %v (%v); want exit %d, insertion at the replayed copy's sequence %d",
			code, rep["kind"], rep["seq"], rep["detail"], cli.ExitTampered, seq)
	}
	s = servicetest.Start(t, dir, nil)
	if tok, ok := s.Tokens.ByID(id); ok && tok.ExpiresAt.After(time.Now().Add(2*time.Hour)) {
		t.Errorf("the restarted ledger applied the replayed copy (seq %d): the token expires at %s again", seq, tok.ExpiresAt)
	}
	body := s.Do("GET", "/health", "", nil).JSON(t)
	if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(seq) {
		t.Errorf("/health = %v, want LEDGER_TAMPERED at the replayed copy's sequence %d", body, seq)
	}
}

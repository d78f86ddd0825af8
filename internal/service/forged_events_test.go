package service_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// forgedAdminSecret is the admin token an attacker tries to plant.
const forgedAdminSecret = "*:*.forged-admin-secret-ffffffffffffffffffffffffff"

// forgeAdminToken returns the stored form of a token.created of an admin
// token for forgedAdminSecret, made with the project's own events package
// from the service's genuine admin token.created: sealed (format 2) and,
// with signer, signed by a key that is not the ledger's.
func forgeAdminToken(t *testing.T, s *servicetest.Service, signer events.Signer) (subject string, data []byte) {
	t.Helper()
	return forgeToken(t, s, signer, forgedAdminSecret, "backdoor")
}

// forgeToken is forgeAdminToken for a token of secret named name.
func forgeToken(t *testing.T, s *servicetest.Service, signer events.Signer, secret, name string) (subject string, data []byte) {
	t.Helper()
	tok, ok := s.Tokens.Lookup(servicetest.AdminSecret)
	if !ok {
		t.Fatal("no admin token to copy")
	}
	evs, err := s.Store.Load(context.Background(), events.KindToken, tok.ID)
	if err != nil || len(evs) == 0 {
		t.Fatalf("admin token events: %v", err)
	}
	e := evs[0]
	p, _ := e.Payload()
	created := p.(events.TokenCreated)
	created.Verifier = events.VerifierHex(secret)
	created.Name = name
	f, err := events.New(ulid.Make().String(), uuid.NewString(), created, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.Actor, f.Via = e.Actor, e.Via
	if err := f.Seal(); err != nil {
		t.Fatal(err)
	}
	if signer != nil {
		if err := f.Sign(signer); err != nil {
			t.Fatal(err)
		}
	}
	data, err = events.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	return f.Subject(), data
}

// forgers are the forgeries an attacker with the events package can make.
func forgers(t *testing.T) []struct {
	name   string
	signer events.Signer
} {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName) // same name, another key
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name   string
		signer events.Signer
	}{{"unsigned", nil}, {"signed_by_another_key", mallory}}
}

// refusesForgedAdmin checks that the forged admin token authenticates
// nowhere and that the probes name the forged event's sequence.
func refusesForgedAdmin(t *testing.T, s *servicetest.Service, seq uint64) {
	t.Helper()
	if r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{forgedAdminSecret}}); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/edge/validate with the forged admin token: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/api/admin/api-tokens", "/api/admin/user-admin", "/api/ledger/events"} {
		if r := s.Do("GET", path, forgedAdminSecret, nil); r.Status == http.StatusOK {
			t.Errorf("%s answers the forged admin token: %s", path, r.Body)
		}
	}
	if _, ok := s.Tokens.Lookup(forgedAdminSecret); ok {
		t.Error("the forged admin token reached the token set")
	}
	for _, probe := range []struct {
		path   string
		status int
	}{{"/health", http.StatusOK}, {"/ready", http.StatusServiceUnavailable}} {
		body := s.Must(probe.status, "GET", probe.path, "", nil).JSON(t)
		if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(seq) || body["kind"] != events.TamperForged {
			t.Errorf("%s = %v, want LEDGER_TAMPERED, forged at %d", probe.path, body, seq)
		}
	}
}

// An attacker who can publish into the stream (here a second client of an
// external NATS server the ledger uses) plants a token.created of an admin
// token while the ledger runs: the live projections stop at it, it never
// authenticates, and every route refuses.
func TestForgedAdminTokenPublishedLiveNeverAuthenticates(t *testing.T) {
	for _, f := range forgers(t) {
		t.Run(f.name, func(t *testing.T) {
			srv := natstest.RunServer(t)
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true // a test server: fsync unproven
			})
			subject, data := forgeAdminToken(t, s, f.signer)
			js, err := jetstream.New(natstest.Connect(t, srv))
			if err != nil {
				t.Fatal(err)
			}
			ack, err := js.Publish(context.Background(), subject, data)
			if err != nil {
				t.Fatal(err)
			}
			waitStopped(t, s)
			refusesForgedAdmin(t, s, ack.Sequence)
		})
	}
}

// The same forgery written while the service is stopped (an attacker with
// the data dir restarts the embedded server with a password of their own)
// is refused at the next start.
func TestForgedAdminTokenWrittenOfflineNeverAuthenticates(t *testing.T) {
	for _, f := range forgers(t) {
		t.Run(f.name, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			subject, data := forgeAdminToken(t, s, f.signer)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			seq := publishOffline(t, s.Config.DataDir, subject, data)
			s = servicetest.Start(t, s.Config.DataDir, nil)
			refusesForgedAdmin(t, s, seq)
			if !strings.Contains(s.Logs(), `"kind":"forged"`) {
				t.Errorf("no log line naming the forgery:\n%s", s.Logs())
			}
		})
	}
}

// publishOffline starts the embedded server on dir as an attacker would
// (their own owner password), publishes data on subject into LEDGER and
// stops it, returning the sequence.
func publishOffline(t *testing.T, dir, subject string, data []byte) uint64 {
	t.Helper()
	return publishOfflineMsg(t, dir, &nats.Msg{Subject: subject, Data: data})
}

// waitStopped waits until the projections stopped (bounded).
func waitStopped(t *testing.T, s *servicetest.Service) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Runner.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the projections did not stop at the forged event")
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
}

// Rotation: a start with --rotate-signing-key appends key.rotated signed
// by the old key and signs from then on with the new one; events before
// and after verify at the next start, and the key file holds the new key.
func TestSigningKeyRotationKeepsHistoryVerifiable(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	keyFile := s.Config.DataDir + ".signing-key"
	old, err := ledgerkey.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Logs(), "GENERATED A NEW LEDGER SIGNING KEY") || !strings.Contains(s.Logs(), old.VerifierKey()) {
		t.Errorf("no loud log line with the generated key's verifier key:\n%s", s.Logs())
	}
	before, _ := s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = servicetest.StartWith(t, s.Config.DataDir, nil, func(c *service.Config) { c.RotateSigningKey = true })
	next, err := ledgerkey.Load(keyFile)
	if err != nil || next.ID() == old.ID() {
		t.Fatalf("key file after rotation: %v, id %s (old %s)", err, next.ID(), old.ID())
	}
	rot, err := s.Store.Load(context.Background(), events.KindLog, events.KeyAggregate)
	if err != nil || len(rot) != 1 || rot[0].Key != old.ID() {
		t.Fatalf("key.rotated events %v (%v), want one signed by the old key", rot, err)
	}
	after, _ := s.CreateToken("client", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = servicetest.Start(t, s.Config.DataDir, nil)
	if got := validSecrets(s, before, after); len(got) != 2 {
		t.Fatalf("valid after the rotation: %v, want both tokens", got)
	}
	// Every event is signed: by the old key up to the rotation, the new after.
	last := s.LastSeq()
	err = s.Store.Replay(context.Background(), 1, last, func(e events.Envelope) error {
		want := old.ID()
		if e.Sequence > rot[0].Sequence {
			want = next.ID()
		}
		if e.Key != want || e.Sig == "" {
			return fmt.Errorf("seq %d (%s) signed by %q, want %s", e.Sequence, e.Type, e.Key, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The private key never enters the stream, the data dir or the logs; the
// verifier key (public) is logged.
func TestSigningKeyNeverLeavesItsFile(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development")
	b, err := os.ReadFile(s.Config.DataDir + ".signing-key")
	if err != nil {
		t.Fatal(err)
	}
	private := strings.SplitN(strings.TrimSpace(string(b)), "+", 5)[4]
	raw, _ := base64.StdEncoding.DecodeString(private)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.Logs(), private) {
		t.Fatal("the logs hold the private key")
	}
	err = filepath.Walk(s.Config.DataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), private) || strings.Contains(string(data), string(raw[1:])) {
			return fmt.Errorf("%s holds the private key", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

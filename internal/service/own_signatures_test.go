package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The projections do not verify again the signatures the process made, but
// an event carrying the ledger's own hash and signature, published by a
// second NATS client, is still refused: with its bytes changed (an admin
// token's verifier written under a backend token's seal) it is named an
// edit, and with the genuine bytes under another signature a forgery.
func TestEventCarryingTheLedgersOwnSignatureIsStillRefused(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		forge func(stored []byte, genuine events.Envelope) []byte
		kind  string
	}{
		{"bytes_changed_under_its_seal", func(b []byte, genuine events.Envelope) []byte {
			p, _ := genuine.Payload()
			b = bytes.Replace(b, []byte(`"tokenType":"backend"`), []byte(`"tokenType":"admin"`), 1)
			return bytes.Replace(b, []byte(p.(events.TokenCreated).Verifier), []byte(events.VerifierHex(forgedAdminSecret)), 1)
		}, events.TamperEdited},
		{"its_hash_under_another_signature", func(b []byte, genuine events.Envelope) []byte {
			return bytes.Replace(b, []byte(genuine.Sig), []byte(base64.StdEncoding.EncodeToString(mallory.Sign([]byte(genuine.Hash)))), 1)
		}, events.TamperForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := natstest.RunServer(t)
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true // a test server: fsync unproven
			})
			s.CreateToken("backend", "development")
			genuine := s.LastEvent()
			if genuine.Type != events.TypeTokenCreated || genuine.Sig == "" {
				t.Fatalf("last event %s, signed %q", genuine.Type, genuine.Sig)
			}
			b, err := events.Marshal(&genuine)
			if err != nil {
				t.Fatal(err)
			}
			forged := tt.forge(b, genuine)
			if bytes.Equal(forged, b) {
				t.Fatal("the forgery changed nothing")
			}
			js, err := jetstream.New(natstest.Connect(t, srv))
			if err != nil {
				t.Fatal(err)
			}
			ack, err := js.Publish(context.Background(), genuine.Subject(), forged)
			if err != nil {
				t.Fatal(err)
			}
			waitStopped(t, s)
			body := s.Must(http.StatusOK, "GET", "/health", "", nil).JSON(t)
			if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(ack.Sequence) || body["kind"] != tt.kind {
				t.Fatalf("/health = %v, want LEDGER_TAMPERED, %s at %d", body, tt.kind, ack.Sequence)
			}
			if _, ok := s.Tokens.Lookup(forgedAdminSecret); ok {
				t.Fatal("the forged admin token reached the token set")
			}
			if r := s.Do("GET", "/api/admin/api-tokens", forgedAdminSecret, nil); r.Status == http.StatusOK {
				t.Fatalf("the forged admin token is answered: %s", r.Body)
			}
		})
	}
}

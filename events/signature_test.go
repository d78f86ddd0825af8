package events_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// testKey is an Ed25519 key from a fixed seed: the golden files' signer.
type testKey struct {
	id   string
	priv ed25519.PrivateKey
}

func newTestKey(id string, seedByte byte) testKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = seedByte
	}
	return testKey{id: id, priv: ed25519.NewKeyFromSeed(seed)}
}

func (k testKey) ID() string             { return k.id }
func (k testKey) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }
func (k testKey) PublicKey(id string) (ed25519.PublicKey, bool) {
	if id != k.id {
		return nil, false
	}
	return k.priv.Public().(ed25519.PublicKey), true
}

var goldenKey = newTestKey("0a1b2c3d", 7)

func TestCheckSignature(t *testing.T) {
	signed := func() events.Envelope { return sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted}) }
	other := newTestKey("0a1b2c3d", 9) // same id, other key
	tests := []struct {
		name string
		env  func() events.Envelope
		keys events.KeyRing
		want error
	}{
		{"signed_by_the_key", signed, goldenKey, nil},
		{"unsigned", func() events.Envelope { e := signed(); e.Key, e.Sig = "", ""; return e }, goldenKey, events.ErrUnsigned},
		{"unknown_key", signed, newTestKey("ffffffff", 7), events.ErrBadSignature},
		{"another_key_with_the_same_id", signed, other, events.ErrBadSignature},
		{"edited_after_signing", func() events.Envelope { e := signed(); e.Reason = "nothing happened"; return e }, goldenKey, events.ErrBadHash},
		{"edited_and_resealed", func() events.Envelope {
			e := signed()
			e.Reason = "nothing happened"
			_ = e.Seal()
			e.Key, e.Sig = goldenKey.id, signed().Sig
			return e
		}, goldenKey, events.ErrBadHash},
		{"signature_of_another_event", func() events.Envelope {
			e := signed()
			e.Sig = sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonCompromised}).Sig
			return e
		}, goldenKey, events.ErrBadSignature},
		{"garbage_signature", func() events.Envelope { e := signed(); e.Sig = "!!"; return e }, goldenKey, events.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.env()
			err := e.CheckSignature(tt.keys)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CheckSignature = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignRefusesUnsealedEvents(t *testing.T) {
	e, _ := events.New("01JD0000000000000000000000", "a", events.TokenRevoked{}, t0)
	if err := e.Sign(goldenKey); err == nil || !strings.Contains(err.Error(), "not sealed") {
		t.Fatalf("Sign of an unsealed event = %v", err)
	}
}

package ledgerkey_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"golang.org/x/mod/sumdb/note"
)

func TestLoadOrGenerateWritesAPrivateFileOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data.signing-key")
	k, generated, err := ledgerkey.LoadOrGenerate(file, ledgerkey.DefaultName)
	if err != nil || !generated {
		t.Fatalf("first LoadOrGenerate = %v, generated %v", err, generated)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, mode %v; want 0600", err, st.Mode())
	}
	again, generated, err := ledgerkey.LoadOrGenerate(file, ledgerkey.DefaultName)
	if err != nil || generated || again.VerifierKey() != k.VerifierKey() || again.ID() != k.ID() {
		t.Fatalf("second LoadOrGenerate = %v, generated %v, key %s want %s", err, generated, again, k)
	}
	// The file is a signed-note signer key: a note signed with it verifies
	// with the verifier key, and an event signature with the public key.
	b, _ := os.ReadFile(file)
	signer, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(k.VerifierKey())
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("note signed with the file's key does not open with VerifierKey: %v", err)
	}
	pub, id, err := ledgerkey.ParseVerifierKey(k.VerifierKey())
	if err != nil || id != k.ID() || !pub.Equal(k.PublicKey()) || len(id) != 8 {
		t.Fatalf("ParseVerifierKey = %x %q %v", pub, id, err)
	}
}

// The private key never shows: not in String, %v, %#v or %+v, and not in
// the errors about a bad key file.
func TestPrivateKeyNeverPrinted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "k")
	k, _, err := ledgerkey.LoadOrGenerate(file, "ledger")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	secret := strings.TrimSpace(string(b))
	secretPart := strings.SplitN(secret, "+", 5)[4]
	for _, s := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%#v", k), fmt.Sprintf("%+v", *k)} {
		if strings.Contains(s, secretPart) || strings.Contains(s, "PRIVATE") {
			t.Errorf("printed key shows its private part: %s", s)
		}
	}
	broken := secret[:len(secret)-4] + "!!!!"
	for _, in := range []string{broken, "PRIVATE+KEY+x+00000000+" + secretPart, secretPart} {
		_, err := ledgerkey.Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) accepted a bad key", in)
		}
		if strings.Contains(err.Error(), secretPart[:20]) {
			t.Errorf("error repeats the key: %v", err)
		}
	}
}

// chainEvent is a sealed event at seq, signed by k (nil: unsigned).
func chainEvent(t *testing.T, seq uint64, p events.Payload, k events.Signer) events.Envelope {
	t.Helper()
	e, err := events.New(fmt.Sprintf("ev-%d", seq), "agg", p, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	e.Actor = events.System
	if p.AggregateKind() == events.KindLog {
		e.AggregateID = events.KeyAggregate
	}
	if err := e.Seal(); err != nil {
		t.Fatal(err)
	}
	if k != nil {
		if err := e.Sign(k); err != nil {
			t.Fatal(err)
		}
	}
	e.Sequence = seq
	return e
}

// firstTamper checks evs in order with c and returns the first
// TamperError (nil: every event passed).
func firstTamper(t *testing.T, c *ledgerkey.Chain, evs []events.Envelope) *events.TamperError {
	t.Helper()
	for _, e := range evs {
		if err := c.Check(e); err != nil {
			got := events.AsTamper(err)
			if got == nil {
				t.Fatalf("seq %d: %v, want a TamperError", e.Sequence, err)
			}
			return got
		}
	}
	return nil
}

func genKey(t *testing.T) *ledgerkey.Key {
	t.Helper()
	k, err := ledgerkey.Generate("ledger")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestChain(t *testing.T) {
	own, old, mallory := genKey(t), genKey(t), genKey(t)
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	rotation := func(from, to *ledgerkey.Key) events.KeyRotated {
		return events.KeyRotated{Previous: from.VerifierKey(), Key: to.VerifierKey()}
	}
	type step struct {
		p events.Payload
		k *ledgerkey.Key
	}
	tests := []struct {
		name     string
		steps    []step
		badSeq   uint64 // 0: every event passes
		badKind  string
		wantLast *ledgerkey.Key
	}{
		{"unsigned_history_then_signed", []step{{rev, nil}, {rev, nil}, {rev, own}, {rev, own}}, 0, "", own},
		{"unsigned_after_signed_is_forged", []step{{rev, own}, {rev, nil}}, 2, events.TamperForged, nil},
		{"another_key_is_forged", []step{{rev, own}, {rev, mallory}}, 2, events.TamperForged, nil},
		{"first_signed_by_an_unknown_key", []step{{rev, nil}, {rev, mallory}}, 2, events.TamperForged, nil},
		{"rotation_followed", []step{{rev, old}, {rotation(old, own), old}, {rev, own}}, 0, "", own},
		{"old_key_after_rotation_is_forged", []step{{rev, old}, {rotation(old, own), old}, {rev, old}}, 3, events.TamperForged, nil},
		{"rotation_signed_by_another_key", []step{{rev, own}, {rotation(mallory, own), mallory}}, 2, events.TamperForged, nil},
		{"rotation_naming_another_previous", []step{{rev, own}, {rotation(mallory, mallory), own}}, 2, events.TamperForged, nil},
	}
	for _, tt := range tests {
		for _, pre := range []bool{false, true} {
			name := tt.name
			if pre {
				name += "/prechecked" // Precheck changes no outcome
			}
			t.Run(name, func(t *testing.T) {
				var evs []events.Envelope
				for i, s := range tt.steps {
					var signer events.Signer
					if s.k != nil {
						signer = s.k
					}
					evs = append(evs, chainEvent(t, uint64(i+1), s.p, signer))
				}
				c, err := ledgerkey.NewChain(own.VerifierKey())
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Learn(evs); err != nil {
					t.Fatal(err)
				}
				if pre {
					c.Precheck(evs)
				}
				got := firstTamper(t, c, evs)
				switch {
				case tt.badSeq == 0 && got != nil:
					t.Fatalf("honest chain refused: %v", got)
				case tt.badSeq != 0 && (got == nil || got.Seq != tt.badSeq || got.Kind != tt.badKind):
					t.Fatalf("got %v, want %s at %d", got, tt.badKind, tt.badSeq)
				case tt.wantLast != nil && c.CurrentID() != tt.wantLast.ID():
					t.Fatalf("current key %s, want %s", c.CurrentID(), tt.wantLast.ID())
				}
			})
		}
	}
}

func TestChainNamesEditedEvents(t *testing.T) {
	k := genKey(t)
	e := chainEvent(t, 1, events.TokenRevoked{Reason: events.ReasonDeleted}, k)
	e.Reason = "edited"
	c, _ := ledgerkey.NewChain(k.VerifierKey())
	te := events.AsTamper(c.Check(e))
	if te == nil || te.Kind != events.TamperEdited || te.Seq != 1 || !errors.Is(te, events.ErrBadHash) {
		t.Fatalf("edited event: %v", te)
	}
}

// Events a verified checkpoint covers are not checked one by one, but the
// key chain is still followed through them; the first event after them is
// checked in full.
func TestChainTrustThroughSkipsOnlyTheCoveredEvents(t *testing.T) {
	old, own := genKey(t), genKey(t)
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	evs := []events.Envelope{
		chainEvent(t, 1, rev, old),
		chainEvent(t, 2, events.KeyRotated{Previous: old.VerifierKey(), Key: own.VerifierKey()}, old),
		chainEvent(t, 3, rev, own),
		chainEvent(t, 4, rev, own),
	}
	evs[2].Reason = "edited under the checkpoint" // bytes no longer match: not looked at
	evs[3].Reason = "edited after it"
	c, _ := ledgerkey.NewChain(own.VerifierKey())
	if err := c.Learn(evs); err != nil {
		t.Fatal(err)
	}
	c.TrustThrough(3)
	for _, e := range evs[:3] {
		if err := c.Check(e); err != nil {
			t.Fatalf("covered seq %d: %v", e.Sequence, err)
		}
	}
	if c.CurrentID() != own.ID() {
		t.Fatalf("rotation under the checkpoint not followed: current %s, want %s", c.CurrentID(), own.ID())
	}
	if te := events.AsTamper(c.Check(evs[3])); te == nil || te.Seq != 4 || te.Kind != events.TamperEdited {
		t.Fatalf("event after the checkpoint: %v, want edited at 4", te)
	}
}

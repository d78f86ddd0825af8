package ledgerkey_test

import (
	"bytes"
	"encoding/base64"
	"runtime"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// stored is e as the projections read it: encoded, then decoded from the
// stored bytes (which its hash is then checked against too), with edit
// applied to those bytes first.
func stored(t *testing.T, e events.Envelope, edit func([]byte) []byte) events.Envelope {
	t.Helper()
	b, err := events.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		b = edit(b)
	}
	d, err := events.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	d.Sequence = e.Sequence
	return d
}

// A chain that skips the Ed25519 verification of the signatures this
// process made accepts exactly those events, byte for byte: an event whose
// stored bytes were changed under the ledger's own hash and signature, an
// event carrying the ledger's hash with another signature, and an event
// signed through this process by a key that is not the current one are
// refused as without the skip; an event the ledger's key signed elsewhere
// (another process, before a restart) is verified and accepted.
func TestChainSkipsOnlyTheVerificationOfSignaturesThisProcessMade(t *testing.T) {
	key, mallory := genKey(t), genKey(t)
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	tests := []struct {
		name      string
		signer    func(*ledgerkey.Own) events.Signer
		edit      func([]byte) []byte
		wantKind  string // "": accepted
		remembers int    // signatures the Own still holds after the check
	}{
		{"signed_by_this_process", func(o *ledgerkey.Own) events.Signer { return o.Signer(key) }, nil, "", 0},
		{"stored_bytes_edited_under_its_hash_and_signature", func(o *ledgerkey.Own) events.Signer { return o.Signer(key) },
			func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"name":"system"`), []byte(`"name":"mallory"`), 1)
			},
			events.TamperEdited, 1},
		{"its_hash_with_another_signature", func(o *ledgerkey.Own) events.Signer { return o.Signer(key) }, nil,
			events.TamperForged, 1},
		{"signed_here_by_a_key_that_is_not_current", func(o *ledgerkey.Own) events.Signer { return o.Signer(mallory) }, nil,
			events.TamperForged, 1},
		{"signed_by_the_ledger_key_elsewhere", func(*ledgerkey.Own) events.Signer { return key }, nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := ledgerkey.NewOwn(0)
			c, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			c.SkipOwn(own)
			// The chain's first event, signed by the ledger here, makes
			// its key the current one.
			first := stored(t, chainEvent(t, 1, rev, own.Signer(key)), nil)
			if err := c.Check(first); err != nil {
				t.Fatal(err)
			}
			e := stored(t, chainEvent(t, 2, rev, tt.signer(own)), tt.edit)
			if tt.name == "its_hash_with_another_signature" {
				// a signature of the same hash, not the one made here
				e.Sig = base64.StdEncoding.EncodeToString(mallory.Sign([]byte(e.Hash)))
			}
			te := events.AsTamper(c.Check(e))
			switch {
			case tt.wantKind == "" && te != nil:
				t.Fatalf("refused: %v", te)
			case tt.wantKind != "" && (te == nil || te.Kind != tt.wantKind || te.Seq != 2):
				t.Fatalf("got %v, want %s at 2", te, tt.wantKind)
			}
			if got := own.Len(); got != tt.remembers {
				t.Fatalf("remembers %d signatures, want %d", got, tt.remembers)
			}
		})
	}
}

// An Own forgets its oldest signatures past its size: their events are
// then verified with Ed25519 (and still accepted).
func TestOwnForgetsTheOldestPastItsSize(t *testing.T) {
	key := genKey(t)
	own := ledgerkey.NewOwn(2)
	c, _ := ledgerkey.NewChain(key.VerifierKey())
	c.SkipOwn(own)
	var evs []events.Envelope
	for seq := uint64(1); seq <= 3; seq++ {
		evs = append(evs, stored(t, chainEvent(t, seq, events.TokenRevoked{Reason: events.ReasonDeleted}, own.Signer(key)), nil))
	}
	if own.Len() != 2 {
		t.Fatalf("remembers %d, want 2", own.Len())
	}
	for _, e := range evs {
		if err := c.Check(e); err != nil {
			t.Fatalf("seq %d: %v", e.Sequence, err)
		}
	}
	if own.Len() != 0 {
		t.Fatalf("remembers %d after the checks, want 0", own.Len())
	}
}

// An Own takes memory as it remembers, not for its whole size up front:
// the map and ring sized for DefaultOwn signatures were 3.9 MiB of every
// ledger's live heap, though only the appends in flight are remembered
// at once.
func TestOwnHoldsNoMemoryUpFront(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	own := ledgerkey.NewOwn(0)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("NewOwn(0) allocated %d bytes, want at most 64 KiB", got)
	}
	runtime.KeepAlive(own)
}

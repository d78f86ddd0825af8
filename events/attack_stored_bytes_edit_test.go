package events_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/tokenledger/tokenledger/events"
)

// The README promises: hash = SHA-256 of the RFC 8785 canonical bytes of
// the stored JSON object without "hash" and "sig", reproducible in any
// language. A byte edit of a stored event must therefore fail its hash
// check. The ledger computes the hash from the envelope it decoded, so
// an edit that the Go decoder folds away (a member it does not know, a
// member name in another case, a duplicate member) passes
// CheckSignature: the stored bytes differ, the ledger (and its verify,
// for an event no checkpoint covers yet) finds them authentic, and an
// auditor following the README's recipe in Python computes another hash.
func TestStoredBytesEditedOutsideTheDecodedEnvelopeFailTheHash(t *testing.T) {
	env := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted})
	stored, err := events.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Unmarshal(stored); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"unknown_member_added", func(b []byte) []byte {
			return append([]byte(`{"note":"edited by mallory",`), b[1:]...)
		}},
		{"member_name_in_upper_case", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"reason":`), []byte(`"REASON":`), 1)
		}},
		{"duplicate_member", func(b []byte) []byte {
			return append([]byte(`{"reason":"first",`), b[1:]...) // the genuine one comes later and wins
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := tt.edit(bytes.Clone(stored))
			if bytes.Equal(edited, stored) {
				t.Fatal("the edit changed nothing")
			}
			e, err := events.Unmarshal(edited)
			if err != nil {
				return // refused outright: fine
			}
			err = e.CheckSignature(goldenKey)
			if err == nil {
				t.Errorf("edited stored bytes pass CheckSignature (hash %s); the README's recipe over the stored object gives %s",
					e.Hash, readmeHash(t, edited))
			} else if !errors.Is(err, events.ErrBadHash) {
				t.Logf("refused: %v", err)
			}
		})
	}
}

// readmeHash is the README's recipe: SHA-256 of the RFC 8785 form of the
// stored object without hash and sig ("" when it is not an object JCS
// accepts, e.g. with duplicate names).
func readmeHash(t *testing.T, stored []byte) string {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(stored, &o); err != nil {
		return ""
	}
	delete(o, "hash")
	delete(o, "sig")
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		return ""
	}
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:])
}

package feed

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Headers of a signed feed event. The ledger's feed publisher signs every
// event it stores in the feed with the ledger's signing key (the key that
// signs the ledger's own events and checkpoints), so that a reader can
// tell an event the ledger published from one planted in the feed by
// whoever could write to it (the feed's credentials, or the stopped data
// dir). The ledger's own signature cannot serve: the feed copy leaves out
// the acting principal's personal data, which the ledger's event hash
// covers.
const (
	// KeyHeader holds the signing key's id: the 8-hex note key hash, as
	// in the ledger's verifier key "<name>+<id>+<base64>".
	KeyHeader = "Ledger-Key"
	// SignatureHeader holds the base64 Ed25519 signature of
	// [SignedBytes].
	SignatureHeader = "Ledger-Signature"
)

// SignedBytes is what the publisher signs for a feed event: a context
// line, the subject it is stored under, its ledger sequence and its data.
// Binding the subject and the ledger sequence keeps a genuine event from
// being replayed under another token's subject or position.
func SignedBytes(subject string, ledgerSeq uint64, data []byte) []byte {
	b := make([]byte, 0, len(signedContext)+len(subject)+24+len(data))
	b = append(b, signedContext...)
	b = append(b, subject...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, ledgerSeq, 10)
	b = append(b, '\n')
	return append(b, data...)
}

const signedContext = "tokenledger feed event v1\n"

// ErrUnsigned and ErrBadSignature are what [Keys.Check] reports.
var (
	ErrUnsigned     = errors.New("feed: event not signed by a trusted ledger key")
	ErrBadSignature = errors.New("feed: event's signature does not verify")
)

// Keys are the ledger verifier keys a reader trusts to sign feed events.
// The zero value trusts none. Not safe for concurrent Add and Check; the
// verifier guards it.
type Keys struct {
	byID  map[string]note.Verifier
	vkeys map[string]string // id -> the verifier key as given
}

// Add trusts vkey, a verifier key "<name>+<id>+<base64>" (the ledger's
// `verifierKey`; see GET /api/ledger/checkpoint).
func (k *Keys) Add(vkey string) error {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return fmt.Errorf("feed: verifier key: %w", err)
	}
	if k.byID == nil {
		k.byID, k.vkeys = map[string]note.Verifier{}, map[string]string{}
	}
	id := fmt.Sprintf("%08x", v.KeyHash())
	if old, ok := k.vkeys[id]; ok && old != strings.TrimSpace(vkey) {
		return fmt.Errorf("feed: verifier key %s: another trusted key has the same id", id)
	}
	k.byID[id], k.vkeys[id] = v, strings.TrimSpace(vkey)
	return nil
}

// Knows reports whether vkey is trusted.
func (k *Keys) Knows(vkey string) bool {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return false
	}
	return k.vkeys[fmt.Sprintf("%08x", v.KeyHash())] == strings.TrimSpace(vkey)
}

// Len is the number of trusted keys.
func (k *Keys) Len() int { return len(k.byID) }

// Check verifies e's signature against the trusted keys.
func (k *Keys) Check(e Event) error {
	if e.KeyID == "" || e.Signature == "" {
		return fmt.Errorf("feed sequence %d: %w", e.Sequence, ErrUnsigned)
	}
	v, ok := k.byID[e.KeyID]
	if !ok {
		return fmt.Errorf("feed sequence %d: key %q: %w", e.Sequence, e.KeyID, ErrUnsigned)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	msg, ok := e.signedBytes()
	if err != nil || !ok || !v.Verify(msg, sig) {
		return fmt.Errorf("feed sequence %d: %w", e.Sequence, ErrBadSignature)
	}
	return nil
}

package events

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
)

// Errors of [Envelope.CheckSignature].
var (
	// ErrUnsigned: the event carries no signature.
	ErrUnsigned = errors.New("event is not signed")
	// ErrBadSignature: the signature does not verify with the key the
	// event names, or that key is not one of the ledger's.
	ErrBadSignature = errors.New("event signature does not verify")
)

// Signer signs events: the ledger's key (internal/ledgerkey implements
// it). ID names the key (the 8-hex key hash of its note verifier key);
// Sign returns the Ed25519 signature of msg.
type Signer interface {
	ID() string
	Sign(msg []byte) []byte
}

// KeyRing finds the public key of a key ID among the keys trusted for an
// event.
type KeyRing interface {
	PublicKey(id string) (ed25519.PublicKey, bool)
}

// OneKey is the KeyRing of one key: Pub, under its ID.
type OneKey struct {
	ID  string
	Pub ed25519.PublicKey
}

// PublicKey implements KeyRing.
func (k OneKey) PublicKey(id string) (ed25519.PublicKey, bool) { return k.Pub, id == k.ID }

// Sign records s's signature of the event: Key is s.ID() and Sig the
// base64 (standard, padded) Ed25519 signature over the ASCII hex Hash.
// The event must be sealed in format 2 (the signature is left out of the
// canonical bytes, the key's ID is not); an event sealed with
// [Envelope.SealFor] of s.ID() is signed without hashing it again.
func (e *Envelope) Sign(s Signer) error {
	if e.Format < FormatJCS || e.Hash == "" {
		return fmt.Errorf("sign %s: event %s is not sealed in format %d", e.Type, e.ID, FormatJCS)
	}
	id := s.ID()
	if id == "" {
		return fmt.Errorf("sign %s: the signer has no key id", e.Type)
	}
	e.stored, e.hasRecordHash = nil, false // no longer the bytes of this event
	if e.sealedKey != id || e.Key != id {
		// The hash covers Key, so it is computed with the signer's ID
		// set; SealFor(id) computed it already.
		e.Key = id
		h, err := e.computeHash()
		if err != nil {
			return fmt.Errorf("sign %s: %w", e.Type, err)
		}
		e.Hash = h
	}
	e.Sig = base64.StdEncoding.EncodeToString(s.Sign([]byte(e.Hash)))
	return nil
}

// CheckSignature verifies that the event's bytes match its Hash and that
// Sig is a signature of Hash by the key Key names in keys. It returns
// ErrUnsigned (wrapped) for an event without a signature, ErrBadHash for
// bytes that do not match the hash, and ErrBadSignature for a signature
// that does not verify, a key not in keys, or a signed format-1 event.
func (e *Envelope) CheckSignature(keys KeyRing) error {
	if e.Sig == "" {
		return fmt.Errorf("%w: event %s (seq %d)", ErrUnsigned, e.ID, e.Sequence)
	}
	if e.Format < FormatJCS {
		return fmt.Errorf("%w: event %s (seq %d) is signed in format %d", ErrBadSignature, e.ID, e.Sequence, FormatGo)
	}
	if err := e.CheckHash(); err != nil {
		return err
	}
	pub, ok := keys.PublicKey(e.Key)
	if !ok {
		return fmt.Errorf("%w: event %s (seq %d) names key %q, not one of the ledger's", ErrBadSignature, e.ID, e.Sequence, e.Key)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Sig)
	if err != nil || !ed25519.Verify(pub, []byte(e.Hash), sig) {
		return fmt.Errorf("%w: event %s (seq %d) with key %s", ErrBadSignature, e.ID, e.Sequence, e.Key)
	}
	return nil
}

package ledgerkey

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"

	"github.com/tokenledger/tokenledger/events"
)

// Chain decides, event by event in stream order, whether the ledger wrote
// an event: it follows the ledger's key chain. It implements
// events.KeyRing (the key expected now).
//
// The rules: events before the first signed one are the history of a
// ledger that did not sign yet and pass as they are (anchored: only up to
// the key history's sequence); the first signed event must be signed by a
// known key (one the Chain was given, or one a key.rotated event names;
// anchored: one the ledger's key history lists, see [Chain.Anchor]),
// which becomes the current key; from then on
// every event must be signed by the current key, and a key.rotated event
// (signed by the current key, naming it as its previous key) makes its new
// key current from the next event on. An unsigned event after a signed one,
// a signature by another key, a signature that does not verify, or bytes
// that do not match the hash are forgeries ([events.TamperError]).
//
// Check is meant to be called in stream order from one goroutine (the
// projections' runner); the other methods may be called concurrently.
type Chain struct {
	mu              sync.Mutex
	known           map[string]ed25519.PublicKey
	vkeys           map[string]string // id → verifier key
	current         string            // "" until the first signed event
	firstSigned     uint64
	anchors         map[string]bool       // nil: any known key may sign first (Anchor)
	unsignedThrough uint64                // with anchors: the last sequence an unsigned event may have
	pins            []Pin                 // with anchors: the prefixes the key history pinned
	trusted         uint64                // events up to here are authentic in bulk (TrustThrough)
	own             *Own                  // signatures this process made (SkipOwn); nil: none
	prechecked      map[uint64]prechecked // by sequence (Precheck)
}

// SkipOwn makes Check trust the signatures o remembers: an event whose
// hash and signature this process made (the store signed it with
// [Own.Signer]) is not verified with Ed25519 again. Everything else stays
// as without it: the event's hash is still recomputed from its stored
// bytes, its key must be the current one, and an event whose signature
// this process did not make (another writer's, a changed one) is verified
// as always.
func (c *Chain) SkipOwn(o *Own) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.own = o
}

// TrustThrough tells the Chain that the events up to sequence seq are
// authentic in bulk: a signed checkpoint covering them verified, and the
// Merkle root over their stored bytes matched it. Check then only follows
// the key chain through them (the first signed event's key, rotations)
// without recomputing hashes or verifying signatures, the costly part.
func (c *Chain) TrustThrough(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trusted = max(c.trusted, seq)
}

// NewChain returns a Chain knowing the given verifier keys (the ledger's
// own, or the one an auditor holds).
func NewChain(trusted ...string) (*Chain, error) {
	c := &Chain{known: map[string]ed25519.PublicKey{}, vkeys: map[string]string{}}
	for _, v := range trusted {
		if err := c.know(v); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ErrKeyIDCollision: two different keys with one key ID. Events and
// checkpoints name their key by that ID (32 bits of a hash of a free name
// and the public key), so a chain holds at most one key per ID: a second
// one is refused, never taken for the first. Matching a given ID costs
// minutes of SHA-256; two random keys of a ledger share one with odds of
// about 2^-32 a pair.
var ErrKeyIDCollision = errors.New("ledgerkey: another key has this key ID")

func (c *Chain) know(vkey string) error {
	pub, id, err := ParseVerifierKey(vkey)
	if err != nil {
		return err
	}
	if old, ok := c.known[id]; ok {
		if !old.Equal(pub) {
			return fmt.Errorf("%w: %s and %s are both %s", ErrKeyIDCollision, c.vkeys[id], vkey, id)
		}
		return nil // known already (under this name or another of the same ID)
	}
	c.known[id], c.vkeys[id] = pub, vkey
	return nil
}

// Learn makes the keys named by key.rotated events known (rotations is
// what the stream holds on ledger.log.key.*; read them before the replay).
// Knowing a key trusts nothing by itself: only the first signed event may
// pick its key among the known ones.
func (c *Chain) Learn(rotations []events.Envelope) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range rotations {
		if e.Type != events.TypeKeyRotated {
			continue
		}
		p, err := e.Payload()
		if err != nil {
			return fmt.Errorf("ledgerkey: key.rotated at sequence %d: %w", e.Sequence, err)
		}
		r := p.(events.KeyRotated)
		for _, v := range []string{r.Previous, r.Key} {
			if err := c.know(v); err != nil {
				err = fmt.Errorf("ledgerkey: key.rotated at sequence %d: %w", e.Sequence, err)
				if errors.Is(err, ErrKeyIDCollision) {
					// Only a key made to match a known one's ID does this:
					// the stream holds a rotation the ledger did not write.
					return forged(e, err)
				}
				return err
			}
		}
	}
	return nil
}

// PublicKey returns the current key's public key when id names it.
func (c *Chain) PublicKey(id string) (ed25519.PublicKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.publicKey(id)
}

// current is the Chain as the KeyRing of one check, under c.mu.
type current struct{ c *Chain }

func (k current) PublicKey(id string) (ed25519.PublicKey, bool) { return k.c.publicKey(id) }

func (c *Chain) publicKey(id string) (ed25519.PublicKey, bool) {
	if id == "" || id != c.current {
		return nil, false
	}
	pub, ok := c.known[id]
	return pub, ok
}

// KnownKey is the public key of a key the Chain knows (given, or named by
// a key.rotated event it learnt), whether current or not.
func (c *Chain) KnownKey(id string) (ed25519.PublicKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pub, ok := c.known[id]
	return pub, ok
}

// CurrentID is the ID of the key the next event must be signed by, ""
// while no event was signed.
func (c *Chain) CurrentID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// CurrentVerifierKey is the current key's verifier key ("" as CurrentID).
func (c *Chain) CurrentVerifierKey() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vkeys[c.current]
}

// Check checks the next event of the stream (see [Chain] for the rules)
// and returns an [events.TamperError] naming its sequence when the ledger
// did not write it.
func (c *Chain) Check(e events.Envelope) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Sig == "" && c.current == "" {
		if c.anchors != nil && e.Sequence > c.unsignedThrough {
			return forged(e, fmt.Errorf("unsigned event at sequence %d: the ledger's key history says it signed every event after sequence %d", e.Sequence, c.unsignedThrough))
		}
		return nil // history from before the ledger signed
	}
	if c.current == "" {
		if _, ok := c.known[e.Key]; !ok {
			return forged(e, fmt.Errorf("the first signed event names key %q, which is not the ledger's", e.Key))
		}
		if c.anchors != nil && !c.anchors[e.Key] {
			return forged(e, fmt.Errorf("the first signed event is signed by key %s, which the ledger's key history does not list: the ledger never signed with it (a key.rotated naming it is planted too)", c.vkeys[e.Key]))
		}
		c.current, c.firstSigned = e.Key, e.Sequence
	}
	if e.Sequence != 0 && e.Sequence <= c.trusted {
		if e.Type == events.TypeKeyRotated {
			return c.rotate(e)
		}
		return nil
	}
	if err := c.checkSignature(e); err != nil {
		switch {
		case errors.Is(err, events.ErrBadHash):
			return &events.TamperError{Seq: e.Sequence, Kind: events.TamperEdited, Err: err}
		case errors.Is(err, events.ErrUnsigned):
			return forged(e, fmt.Errorf("unsigned event after the ledger signs (since sequence %d): %w", c.firstSigned, err))
		default:
			return forged(e, err)
		}
	}
	if e.Type == events.TypeKeyRotated {
		return c.rotate(e)
	}
	return nil
}

// checkSignature is e.CheckSignature with the current key: nothing more
// when Precheck proved e's hash and signature with that key; without the
// Ed25519 verification when this process made e's signature of e's hash
// (SkipOwn), the hash checked against the stored bytes all the same.
func (c *Chain) checkSignature(e events.Envelope) error {
	if len(c.prechecked) > 0 && c.takePrechecked(e) {
		if _, ok := c.publicKey(e.Key); ok {
			return nil
		}
	}
	if c.own == nil || e.Sig == "" || e.Format < events.FormatJCS {
		return e.CheckSignature(current{c})
	}
	if _, ok := c.publicKey(e.Key); !ok || !c.own.signed(e.Hash, e.Sig) {
		return e.CheckSignature(current{c})
	}
	if err := e.CheckHash(); err != nil {
		return err
	}
	c.own.forget(e.Hash)
	return nil
}

func (c *Chain) rotate(e events.Envelope) error {
	p, err := e.Payload()
	if err != nil {
		return &events.TamperError{Seq: e.Sequence, Kind: events.TamperUnreadable, Err: err}
	}
	r := p.(events.KeyRotated)
	_, prevID, err := ParseVerifierKey(r.Previous)
	if err != nil || prevID != c.current {
		return forged(e, fmt.Errorf("key.rotated names previous key %q, the current key is %s", r.Previous, c.current))
	}
	if err := c.know(r.Key); err != nil {
		return forged(e, err)
	}
	_, id, _ := ParseVerifierKey(r.Key)
	c.current = id
	return nil
}

func forged(e events.Envelope, err error) error {
	return &events.TamperError{Seq: e.Sequence, Kind: events.TamperForged, Err: err}
}

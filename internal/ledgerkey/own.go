package ledgerkey

import (
	"encoding/base64"
	"encoding/hex"
	"sync"

	"github.com/tokenledger/tokenledger/events"
)

// DefaultOwn is how many signatures an [Own] remembers by default: far more
// than the appends in flight between the store's signature and the
// projections' check of the same event.
const DefaultOwn = 16384

// Own remembers the signatures this process made (hash → signature), so
// that the projections, checking in stream order the events this process
// just appended, need not verify its own Ed25519 signatures again
// ([Chain.SkipOwn]). It holds at most a fixed number of signatures, the
// oldest forgotten first; a signature is forgotten once an event carrying
// it was checked. Forgetting only costs a verification. It is safe for
// concurrent use.
type Own struct {
	mu    sync.Mutex
	sigs  map[[32]byte][64]byte
	order [][32]byte // ring of remembered hashes, oldest at next
	next  int
	max   int // the ring's size; it and the map grow as signatures come
}

// NewOwn returns an Own remembering at most n signatures (n ≤ 0:
// DefaultOwn).
func NewOwn(n int) *Own {
	if n <= 0 {
		n = DefaultOwn
	}
	return &Own{sigs: map[[32]byte][64]byte{}, max: n}
}

// Signer returns s remembering each signature it makes of an event hash
// (the 64 hex digits events.Envelope.Sign signs).
func (o *Own) Signer(s events.Signer) events.Signer { return ownSigner{s, o} }

type ownSigner struct {
	events.Signer
	o *Own
}

func (s ownSigner) Sign(msg []byte) []byte {
	sig := s.Signer.Sign(msg)
	var h [32]byte
	if len(msg) == 2*len(h) && len(sig) == 64 {
		if _, err := hex.Decode(h[:], msg); err == nil {
			s.o.remember(h, [64]byte(sig))
		}
	}
	return sig
}

func (o *Own) remember(h [32]byte, sig [64]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.order) < o.max {
		o.order = append(o.order, h)
	} else {
		delete(o.sigs, o.order[o.next])
		o.order[o.next] = h
		o.next = (o.next + 1) % len(o.order)
	}
	o.sigs[h] = sig
}

// signed reports whether this process signed hash (hex) with exactly the
// signature sig (base64).
func (o *Own) signed(hash, sig string) bool {
	var buf [66]byte // base64's decoded length of a 64-byte signature
	h, ok := parseHash(hash)
	if !ok || len(sig) != base64.StdEncoding.EncodedLen(64) {
		return false
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(sig))
	if err != nil || n != 64 {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	got, ok := o.sigs[h]
	return ok && got == [64]byte(buf[:64])
}

// forget drops the signature of hash (hex): its event was checked.
func (o *Own) forget(hash string) {
	if h, ok := parseHash(hash); ok {
		o.mu.Lock()
		delete(o.sigs, h)
		o.mu.Unlock()
	}
}

func parseHash(hash string) (h [32]byte, ok bool) {
	if len(hash) != 2*len(h) {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(hash))
	return h, err == nil
}

// Len is how many signatures o remembers now.
func (o *Own) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sigs)
}

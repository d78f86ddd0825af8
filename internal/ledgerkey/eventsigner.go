package ledgerkey

import (
	"crypto/ed25519"
	"sync/atomic"

	"github.com/tokenledger/tokenledger/events"
)

// Sizes of an [EventSigner]'s pool of prepared nonces: when fewer than
// EventNonceLow are ready, one goroutine prepares up to EventNonceBatch.
const (
	EventNonceLow   = 64
	EventNonceBatch = 256
)

// EventSigner signs events (an [events.Signer] of the key) with nonces
// prepared ahead by a [Presigner]: the nonce's commitment, about four
// fifths of an Ed25519 signature's cost, is computed off the path of the
// request that appends the event, by a goroutine started when the pool
// runs low (and ending when it is full again), so a signature costs two
// SHA-512 and a scalar multiply-add. The signatures are standard Ed25519
// signatures of the key (crypto/ed25519.Verify, every verifier of the
// ledger and `tokenledger verify` accept them); only their nonce is random
// (see Presigner) instead of RFC 8032's deterministic one. Should a nonce
// fail to be made (crypto/rand failing), the signature is crypto/ed25519's.
// Safe for concurrent use.
type EventSigner struct {
	id      string
	priv    ed25519.PrivateKey
	p       *Presigner
	filling atomic.Bool // a goroutine is preparing nonces
}

// EventSigner returns an EventSigner of k.
func (k *Key) EventSigner() (*EventSigner, error) {
	p, err := k.Presigner()
	if err != nil {
		return nil, err
	}
	return &EventSigner{id: k.id, priv: k.priv, p: p}, nil
}

// ID is the key's ID (events.Signer).
func (s *EventSigner) ID() string { return s.id }

// Sign returns the Ed25519 signature of msg (an event's hex hash) made
// with a prepared nonce, or a new one when none is ready.
func (s *EventSigner) Sign(msg []byte) []byte {
	s.refill()
	sig, err := s.p.Sign(msg)
	if err != nil {
		return ed25519.Sign(s.priv, msg)
	}
	return sig
}

// Prepare prepares nonces until n are ready (a warm start; Sign keeps the
// pool filled afterwards).
func (s *EventSigner) Prepare(n int) error { return s.p.PrepareN(n) }

// Ready is the number of prepared nonces.
func (s *EventSigner) Ready() int { return s.p.Ready() }

// refill starts a goroutine preparing nonces up to EventNonceBatch when
// fewer than EventNonceLow are ready and none is preparing them.
func (s *EventSigner) refill() {
	if s.p.Ready() >= EventNonceLow || !s.filling.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.filling.Store(false)
		_ = s.p.PrepareN(EventNonceBatch) // an error leaves Sign to make its nonce (or fall back)
	}()
}

var _ events.Signer = (*EventSigner)(nil)

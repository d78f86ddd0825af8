package ledgerkey

import (
	"crypto/ed25519"
	"encoding/base64"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tokenledger/tokenledger/events"
)

// prechecked is an event whose stored bytes match its hash and whose
// signature of that hash verifies with the key it names ([Chain.Precheck]).
type prechecked struct{ hash, sig, key string }

// precheckChunk is how many events one goroutine checks at a time.
const precheckChunk = 16

// Precheck does, on all CPUs, the part of [Chain.Check] that needs no
// other event: for each signed event of evs (consecutive events of the
// stream, which Check is then called with, in order), the hash of its
// stored bytes and the Ed25519 verification of its signature with the key
// it names, when that key is known. Check then accepts a prechecked event
// without hashing or verifying it again, once the chain's rules (the
// current key, rotations) hold for it; an event that failed its precheck,
// or whose key was not known yet, is checked in full by Check, which names
// what is wrong. Events a checkpoint covers (TrustThrough) are skipped.
// Precheck forgets what an earlier call prechecked.
func (c *Chain) Precheck(evs []events.Envelope) {
	c.mu.Lock()
	trusted := c.trusted
	known := maps.Clone(c.known)
	clear(c.prechecked)
	c.mu.Unlock()
	ok := make([]bool, len(evs))
	chunks := (len(evs) + precheckChunk - 1) / precheckChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ch := int(next.Add(1) - 1)
				if ch >= chunks {
					return
				}
				for i := ch * precheckChunk; i < min((ch+1)*precheckChunk, len(evs)); i++ {
					ok[i] = precheck(&evs[i], trusted, known)
				}
			}
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prechecked == nil {
		c.prechecked = make(map[uint64]prechecked, len(evs))
	}
	for i := range evs {
		if ok[i] {
			e := &evs[i]
			c.prechecked[e.Sequence] = prechecked{hash: e.Hash, sig: e.Sig, key: e.Key}
		}
	}
}

// precheck reports whether e's hash matches its bytes and its signature
// verifies with the known key it names.
func precheck(e *events.Envelope, trusted uint64, known map[string]ed25519.PublicKey) bool {
	if e.Sequence == 0 || e.Sequence <= trusted || e.Sig == "" || e.Format < events.FormatJCS {
		return false
	}
	pub, ok := known[e.Key]
	if !ok {
		return false
	}
	if e.CheckHash() != nil {
		return false
	}
	var sig [66]byte // base64's decoded length of a 64-byte signature
	if len(e.Sig) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return false
	}
	n, err := base64.StdEncoding.Decode(sig[:], []byte(e.Sig))
	return err == nil && n == ed25519.SignatureSize && ed25519.Verify(pub, []byte(e.Hash), sig[:n])
}

// takePrechecked reports whether Precheck proved e's hash and signature
// (with the key e names), and forgets it. Under c.mu.
func (c *Chain) takePrechecked(e events.Envelope) bool {
	p, ok := c.prechecked[e.Sequence]
	if !ok {
		return false
	}
	delete(c.prechecked, e.Sequence)
	return p.hash == e.Hash && p.sig == e.Sig && p.key == e.Key
}

package integrity

// Per-event signatures, as a Verifier holds them back until a checkpoint
// covers them or checks them.

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
)

// Signatures is the per-event signature check (the ledger key signs every
// event it appends, in the envelope's "sig" member). Check verifies the
// signature of an event that carries one, returning an error for a bad
// one; an event without a "sig" member is unsigned.
type Signatures interface {
	Check(env *events.Envelope) error
}

// KeyFollower is implemented by a [Signatures] that follows the ledger's
// key chain: Covered is called, in stream order, with each key.rotated
// event a verified checkpoint covers (whose signature is then not checked:
// the checkpoint proves it), so that the events after the checkpoint are
// checked against the key it names.
type KeyFollower interface {
	Covered(env *events.Envelope) error
}

// KeyTracker is implemented by a [KeyFollower] that knows which key its
// chain has reached: CurrentKey is that key's ID ("" before the chain
// met a signed event), KnownKey the public key of a key it knows (given,
// or named by a rotation it followed). A checkpoint then covers the events
// before it only if the key current at its size signed it (see
// [Verifier.signedByCurrent]).
type KeyTracker interface {
	CurrentKey() string
	KnownKey(id string) (ed25519.PublicKey, bool)
}

// UnsignedLimiter is implemented by a [Signatures] that knows the last
// sequence an unsigned event may have (the ledger's key history, see
// ledgerkey.Chain.Anchor): ok false when any may be, until the first
// signed one.
type UnsignedLimiter interface {
	UnsignedThrough() (seq uint64, ok bool)
}

// Pin is a prefix of the stream, records 1..Through, whose tree hash
// (Root) the ledger's key history recorded; What names those records in
// a finding ("the unsigned events the ledger took when it began signing").
type Pin struct {
	Through uint64
	Root    tlog.Hash
	What    string
}

// Pinner is implemented by a [Signatures] that knows the prefixes of the
// stream the ledger's key history pinned (ledgerkey.Chain.Anchor): the
// records of each must hash to its root, and the stream may not end
// before it. The Verifier asks once, when it is made.
type Pinner interface {
	Pins() []Pin
}

// maxUnchecked bounds the signed events a Verifier holds back; past it
// (a stream without checkpoints) their signatures are checked at once.
const maxUnchecked = 1 << 14

// held is a signed record whose signature is not checked yet.
type held struct {
	seq      uint64
	data     []byte
	rotation bool // a key.rotated event
}

// Prechecker is implemented by a [Signatures] that can do at once, on
// all CPUs, the part of its checks that needs no other event (an event's
// hash and Ed25519 signature) for a run of consecutive events, before
// Check is called with each of them in order (ledgerkey.Chain.Precheck).
type Prechecker interface {
	Precheck(envs []events.Envelope)
}

// checkSignatures verifies the held-back signatures of records before seq
// and returns the first failure. The records are decoded, and their
// signatures prechecked (Prechecker), on all CPUs; the checks that follow
// the key chain run in order.
func (v *Verifier) checkSignatures(before uint64) *Finding {
	s := v.cfg.Signatures
	if s == nil {
		return nil
	}
	n := 0
	for n < len(v.unsigned) && v.unsigned[n].seq < before {
		n++
	}
	envs, errs := decodeHeld(v.unsigned[:n])
	if p, ok := s.(Prechecker); ok && n > 1 {
		p.Precheck(envs)
	}
	for i := range n {
		h := v.unsigned[i]
		v.rep.SignaturesChecked++
		env, err := &envs[i], errs[i]
		if err == nil {
			err = s.Check(env)
		}
		if err != nil {
			v.unsigned = v.dropHeld(i + 1)
			return &Finding{Seq: h.seq, Kind: KindForgery, Detail: fmt.Sprintf("%s event %s: %v", env.Type, env.ID, err)}
		}
	}
	v.unsigned = v.dropHeld(n)
	return nil
}

// dropHeld is v.unsigned without its first n records, kept at the start of
// its array, so that holding records back reuses it instead of growing a
// new one after every checkpoint.
func (v *Verifier) dropHeld(n int) []held {
	rest := copy(v.unsigned, v.unsigned[n:])
	clear(v.unsigned[rest:]) // drop the references to the records' bytes
	return v.unsigned[:rest]
}

// decodeHeld decodes the held records on all CPUs, each with its Sequence
// set (errs[i]: record i does not decode).
func decodeHeld(hs []held) ([]events.Envelope, []error) {
	envs, errs := make([]events.Envelope, len(hs)), make([]error, len(hs))
	chunks := (len(hs) + chunk - 1) / chunk
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				for i := c * chunk; i < min((c+1)*chunk, len(hs)); i++ {
					envs[i], errs[i] = events.Unmarshal(hs[i].data)
					envs[i].Sequence = hs[i].seq
				}
			}
		}()
	}
	wg.Wait()
	return envs, errs
}

// covered hands a key.rotated event a verified checkpoint covers to the
// key follower, if any.
func (v *Verifier) covered(h held) *Finding {
	kf, ok := v.cfg.Signatures.(KeyFollower)
	if !h.rotation || !ok {
		return nil
	}
	env, err := events.Unmarshal(h.data)
	if err == nil {
		env.Sequence = h.seq
		err = kf.Covered(&env)
	}
	if err != nil {
		return &Finding{Seq: h.seq, Kind: KindForgery, Detail: fmt.Sprintf("key.rotated: %v", err)}
	}
	return nil
}

// signedByCurrent reports whether cp is signed by the key the ledger's
// chain is at by cp's size: the current key, moved on by the key.rotated
// events cp would cover. Every key of a rotation verifies checkpoints (an
// auditor gives them all, for the checkpoints before each rotation), but
// after a rotation the ledger signs with the new key only: a checkpoint
// of a later size signed by a retired key is its holder's, and proves
// nothing of who wrote the events it covers. The rotations themselves are
// checked one by one here (each signed by the key it retires, naming it):
// a rotation is what decides which key may sign the checkpoint, so the
// checkpoint cannot vouch for it. Without a KeyTracker, or while the chain
// has met no signed event and cp covers no rotation, any known key will
// do (verify cannot tell a retired key's checkpoints then: README, Known
// gaps).
func (v *Verifier) signedByCurrent(cp Checkpoint) bool {
	kt, ok := v.cfg.Signatures.(KeyTracker)
	if !ok {
		return true
	}
	cur := kt.CurrentKey()
	var pub ed25519.PublicKey
	if cur != "" {
		if pub, ok = kt.KnownKey(cur); !ok {
			return false
		}
	}
	for _, h := range v.unsigned {
		if h.seq > uint64(cp.Size) {
			break
		}
		if !h.rotation {
			continue
		}
		env, err := events.Unmarshal(h.data)
		if err != nil {
			return false
		}
		env.Sequence = h.seq
		p, err := env.Payload()
		r, ok := p.(events.KeyRotated)
		if err != nil || !ok {
			return false
		}
		prev, err1 := note.NewVerifier(r.Previous)
		next, err2 := note.NewVerifier(r.Key)
		if err1 != nil || err2 != nil {
			return false
		}
		if cur == "" {
			// The chain has met no signed event: as ledgerkey.Chain does
			// for a covered rotation, the first one starts it from the key
			// it names as previous, which must be its signer.
			cur = fmt.Sprintf("%08x", prev.KeyHash())
			if pub, ok = ed25519Key(r.Previous); !ok {
				return false
			}
		}
		if fmt.Sprintf("%08x", prev.KeyHash()) != cur || env.Key != cur || env.CheckSignature(events.OneKey{ID: cur, Pub: pub}) != nil {
			return false
		}
		if pub, ok = ed25519Key(r.Key); !ok {
			return false
		}
		cur = fmt.Sprintf("%08x", next.KeyHash())
	}
	return cur == "" || slices.Contains(cp.Signers, cur)
}

// ed25519Key is the public key of a signed-note Ed25519 verifier key
// ("<name>+<hash>+<base64 of 0x01 and the key>"). The name holds no '+'
// (note.NewVerifier refuses one) but the base64 may: the key is what
// follows the second '+', not the last.
func ed25519Key(vkey string) (ed25519.PublicKey, bool) {
	fields := strings.SplitN(vkey, "+", 3)
	if len(fields) != 3 {
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil, false
	}
	return ed25519.PublicKey(raw[1:]), true
}

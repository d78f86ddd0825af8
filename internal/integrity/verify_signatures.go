package integrity

// Per-event signatures, as a Verifier holds them back until a checkpoint
// covers them or checks them.

import (
	"fmt"

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

// maxUnchecked bounds the signed events a Verifier holds back; past it
// (a stream without checkpoints) their signatures are checked at once.
const maxUnchecked = 1 << 14

// held is a signed record whose signature is not checked yet.
type held struct {
	seq      uint64
	data     []byte
	rotation bool // a key.rotated event
}

// checkSignatures verifies the held-back signatures of records before seq
// and returns the first failure.
func (v *Verifier) checkSignatures(before uint64) *Finding {
	s := v.cfg.Signatures
	if s == nil {
		return nil
	}
	for i, h := range v.unsigned {
		if h.seq >= before {
			v.unsigned = v.unsigned[i:]
			return nil
		}
		v.rep.SignaturesChecked++
		env, err := events.Unmarshal(h.data)
		if err == nil {
			env.Sequence = h.seq
			err = s.Check(&env)
		}
		if err != nil {
			v.unsigned = v.unsigned[i+1:]
			return &Finding{Seq: h.seq, Kind: KindForgery, Detail: fmt.Sprintf("%s event %s: %v", env.Type, env.ID, err)}
		}
	}
	v.unsigned = v.unsigned[:0]
	return nil
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

package integrity

// Signed checkpoints, in the stream and trusted, against the Verifier's tree.

import (
	"encoding/base64"
	"fmt"
	"slices"

	"github.com/tokenledger/tokenledger/events"
)

// Source says where a trusted checkpoint comes from; it decides what its
// loss is called.
type Source int

// Sources of trusted checkpoints.
const (
	// SourceKept: the checkpoint the ledger keeps beside its data dir. A
	// stream shorter than it is a [KindTruncation].
	SourceKept Source = iota + 1
	// SourceAuditor: a checkpoint an auditor kept from an earlier day. A
	// stream shorter than it is a [KindTailTruncation].
	SourceAuditor
)

type trusted struct {
	cp     Checkpoint
	note   []byte
	source Source
}

// Trust adds a checkpoint from outside the stream (a signed note: the
// ledger's kept checkpoint, an auditor's, a bundle's). It is verified with
// the keys at once; the stream must extend it. Call it before Add.
func (v *Verifier) Trust(signed []byte, source Source) error {
	cp, kept, err := OpenCheckpointNote(signed, v.cfg.Keys)
	if err != nil {
		return err
	}
	v.trust = append(v.trust, trusted{cp: cp, note: kept, source: source})
	return nil
}

// streamCheckpoint checks a log.checkpoint event against the tree. The
// ledger appends a checkpoint of size n with the expectation that n is
// the stream's last sequence, so an honest one sits at sequence n+1.
func (v *Verifier) streamCheckpoint(env *events.Envelope) *Finding {
	seq := env.Sequence
	p, err := env.Payload()
	c, ok := p.(events.Checkpoint)
	if err != nil || !ok {
		return &Finding{Seq: seq, Kind: KindInsertion, Detail: fmt.Sprintf("a checkpoint event the ledger did not write: %v", err)}
	}
	cp, signed, err := OpenCheckpointNote([]byte(c.Note), v.cfg.Keys)
	if err != nil {
		return &Finding{Seq: seq, Kind: KindInsertion, Detail: fmt.Sprintf("checkpoint event: %v", err)}
	}
	if cp.Size != c.Size || base64.StdEncoding.EncodeToString(cp.Root[:]) != c.Root {
		return &Finding{Seq: seq, Kind: KindInsertion, Detail: "the checkpoint event's size or root differs from its signed note"}
	}
	before := int64(seq) - 1
	switch {
	case cp.Size > before:
		return v.mismatchRange(cp.Size, false, KindDeletion, fmt.Sprintf("the checkpoint at sequence %d signs %d records, but only %d precede it: records %d to %d lost %d", seq, cp.Size, before, v.rep.Proven+1, before, cp.Size-before))
	case cp.Size < before:
		root, _ := v.tree.Root(cp.Size)
		if root == cp.Root {
			return &Finding{Seq: uint64(cp.Size) + 1, Kind: KindInsertion,
				Detail: fmt.Sprintf("%d records stand between the %d the checkpoint at sequence %d signs and the checkpoint", before-cp.Size, cp.Size, seq)}
		}
		return v.mismatchRange(cp.Size, false, KindInsertion, fmt.Sprintf("the checkpoint at sequence %d signs %d records, but %d precede it: records %d to %d hold %d the ledger did not write", seq, cp.Size, before, v.rep.Proven+1, before, before-cp.Size))
	}
	root, _ := v.tree.Root(cp.Size)
	if root != cp.Root {
		return v.mismatchRange(cp.Size, true, KindAltered, fmt.Sprintf("records %d to %d do not hash to the root the checkpoint at sequence %d signs", v.rep.Proven+1, cp.Size, seq))
	}
	counted := v.rep.Checkpoints
	if f := v.proven(cp, signed); f != nil {
		return f
	}
	if v.rep.Checkpoints > counted && cp.Size >= v.streamProven {
		v.streamProven, v.rep.LatestInStream = cp.Size, signed
	}
	return nil
}

// mismatchRange records a signed root of size n that does not match the
// records it covers as the suspect range rep.Proven+1..n (the first one
// only: later roots cover the same damage), and lets verification go on.
func (v *Verifier) mismatchRange(n int64, countsAgree bool, kind Kind, detail string) *Finding {
	if v.suspect == nil {
		v.suspect = &Finding{Seq: uint64(v.rep.Proven) + 1, Kind: kind, Detail: detail}
		v.suspectHi = uint64(max(n, int64(v.rep.Proven)+1))
		v.countsAgree = countsAgree
	}
	return nil
}

// proven records a checkpoint whose root matched the tree.
func (v *Verifier) proven(cp Checkpoint, signed []byte) *Finding {
	if !v.signedByCurrent(cp) {
		// Its root matched, but a key the chain had rotated away signed
		// it: the events it would cover keep their one-by-one check.
		return nil
	}
	v.rep.Checkpoints++
	if i, ok := slices.BinarySearch(v.sizes, cp.Size); !ok {
		v.sizes = slices.Insert(v.sizes, i, cp.Size)
	}
	if cp.Size >= v.rep.Proven {
		v.rep.Proven = cp.Size
		v.rep.Latest = signed
	}
	// Events covered by a verified checkpoint are authentic in bulk.
	i := 0
	for i < len(v.unsigned) && v.unsigned[i].seq <= uint64(cp.Size) {
		if f := v.covered(v.unsigned[i]); f != nil {
			return f
		}
		i++
	}
	v.unsigned = v.dropHeld(i)
	if m := v.mismatch; m != nil && cp.Size >= m.cp.Size {
		return &Finding{Seq: uint64(m.cp.Size), Kind: KindFork,
			Detail: fmt.Sprintf("the trusted checkpoint of size %d and the stream's checkpoint of size %d are both signed by the ledger key but not consistent: the histories differ at or before sequence %d",
				m.cp.Size, cp.Size, m.cp.Size)}
	}
	return nil
}

// checkTrusted compares trusted checkpoints of the tree's current size
// with its root.
func (v *Verifier) checkTrusted() *Finding {
	n := v.tree.Size()
	for i := range v.trust {
		t := &v.trust[i]
		if t.cp.Size != n {
			continue
		}
		root, _ := v.tree.Root(n)
		if root == t.cp.Root {
			if f := v.proven(t.cp, t.note); f != nil {
				return f
			}
			continue
		}
		if v.mismatch == nil {
			v.mismatch = t // a fork if the stream's own checkpoints prove this history
		}
	}
	return nil
}

// provenBefore is the largest size below n a checkpoint proved (0 if
// none): the first record a disagreeing trusted root can be about.
func (v *Verifier) provenBefore(n int64) int64 {
	i, _ := slices.BinarySearch(v.sizes, n)
	if i == 0 {
		return 0
	}
	return v.sizes[i-1]
}

package integrity

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
)

// Kind names a kind of tampering. Its values are stable: scripts read them
// from `tokenledger verify --json`.
type Kind string

// The kinds of tampering a [Verifier] names.
const (
	// KindByteEdit: a stored record's bytes were changed: it is unreadable,
	// does not decode, or its hash does not match its bytes.
	KindByteEdit Kind = "byte-edit"
	// KindDeletion: records are missing: a gap in the sequences, a signed
	// checkpoint that counts more records than precede it, or an event
	// whose predecessor in its aggregate's chain is not in the stream.
	KindDeletion Kind = "deletion"
	// KindInsertion: a record the ledger did not write: a checkpoint not
	// signed by the ledger key, records between a signed checkpoint's size and the
	// checkpoint event, or a second successor of one event in an
	// aggregate's chain (insertion or forgery).
	KindInsertion Kind = "insertion"
	// KindForgery: an event after the last verified checkpoint that the
	// ledger did not sign: unsigned after signed events, signed by a key
	// that is not the ledger's current key, or a signature that does not
	// verify ([Config.Signatures]).
	KindForgery Kind = "forgery"
	// KindReorder: records were moved: an event comes before its
	// predecessor in its aggregate's chain, or sequences go backwards.
	KindReorder Kind = "reorder"
	// KindTruncation: the stream ends before its own evidence says it
	// does: before the stream's last sequence, or before the size of the
	// checkpoint the ledger kept beside its data dir.
	KindTruncation Kind = "truncation"
	// KindTailTruncation: the stream ends before the size of a checkpoint
	// an auditor kept (verify --since-checkpoint).
	KindTailTruncation Kind = "tail-truncation"
	// KindFork: two checkpoints signed by the ledger key that are not
	// consistent: the key signed two different histories.
	KindFork Kind = "fork"
	// KindAltered: a signed root does not match the records it covers and
	// no single record shows why (a re-sealed edit of an aggregate's last
	// event, or records swapped across aggregates, without per-event
	// signatures to pin it down). Seq is the first record not proven by an
	// earlier checkpoint; Detail names the range.
	KindAltered Kind = "altered"
)

// Finding is the first tampering a Verifier found: the first bad sequence
// and its kind.
type Finding struct {
	Seq    uint64
	Kind   Kind
	Detail string
}

// Error implements error.
func (f *Finding) Error() string {
	return fmt.Sprintf("integrity: %s at sequence %d: %s", f.Kind, f.Seq, f.Detail)
}

// Config configures a [Verifier].
type Config struct {
	// Keys verify checkpoint notes: the ledger's public verifier key(s).
	// Without keys no checkpoint can be trusted, and every log.checkpoint
	// event is reported as an insertion.
	Keys note.Verifiers
	// Records, when known, is how many records will be fed: the tree is
	// sized for them at once.
	Records int
	// Signatures checks per-event signatures; nil checks none. Following
	// the verification cost rule, events covered by a verified checkpoint
	// are authentic in bulk and their signatures are checked only to pin
	// down a failed checkpoint; the others are checked at [Verifier.Finish].
	Signatures Signatures
}

// Report is what a verification found.
type Report struct {
	// Records is the number of records read; LastSeq the last sequence.
	Records uint64
	LastSeq uint64
	// Root is the tree root over records 1..LastSeq.
	Root tlog.Hash
	// Checkpoints counts the signed checkpoints (in the stream and trusted)
	// whose root matched the recomputed tree; Proven is the largest size
	// one of them proved.
	Checkpoints int
	Proven      int64
	// Latest is the newest verified checkpoint's signed note (nil if none).
	Latest []byte
	// LatestInStream is the newest verified checkpoint of the stream's own
	// (a log.checkpoint event; nil if none): unlike a trusted one (the
	// tree head the ledger keeps beside its data dir, which also counts
	// the checkpoint event itself), one the ledger's checkpoint route and
	// bundles reach, so one an auditor can give --since-checkpoint later.
	LatestInStream []byte
	// SignaturesChecked counts per-event signatures verified one by one.
	SignaturesChecked int
	// Finding is the first tampering, nil when none was found.
	Finding *Finding
}

// Verifier checks a stream fed record by record in sequence order from
// sequence 1 ([Verifier.Add], [Verifier.Unreadable]), then
// [Verifier.Finish]. It checks sequence continuity, each record's
// decoding and hash, each aggregate's prev/hash chain, per-event
// signatures (with [Config.Signatures]), and the tree root against every
// signed checkpoint: the stream's log.checkpoint events and the trusted
// ones given to [Verifier.Trust]. It stops at the first tampering it can
// name. A Verifier is not safe for concurrent use.
type Verifier struct {
	cfg   Config
	tree  *Tree
	next  uint64
	found *Finding

	chains  map[shortKey]int32 // aggregate (its key, when short) → its chain in links
	long    map[string]int32   // the same for the other aggregates
	links   []chain
	key     []byte                // the aggregate's key: its kind's length, its kind, its id
	pending map[uint64]brokenLink // unknown predecessor (hash prefix) → the first event naming it
	hashes  []uint64              // the hash prefix of every event, at seq-1: see seenBefore

	preparers []preparer // one per preparing goroutine
	batch     []prepared // AddBatch's records, reused

	pins       []Pin // the key history's (Pinner)
	signedSeen bool
	unsigned   []held // signed records not yet covered by a verified checkpoint

	trust    []trusted
	mismatch *trusted // a trusted checkpoint whose root disagreed, awaiting the stream's own
	sizes    []int64  // sizes proven by checkpoints, ascending

	streamProven int64 // the size of rep.LatestInStream

	// suspect is the first signed root that disagreed with the records
	// it covers when no single record showed why: a range (suspect.Seq to
	// suspectHi). Verification goes on to find a record that pins it down
	// (a broken chain link, a bad signature) before naming the range.
	suspect     *Finding
	suspectHi   uint64
	countsAgree bool // the suspect's checkpoint counted the records right

	rep Report
}

// NewVerifier returns a Verifier for a stream read from sequence 1.
func NewVerifier(cfg Config) *Verifier {
	t := NewTree()
	if cfg.Records > 0 {
		t.Grow(cfg.Records)
	}
	v := &Verifier{tree: t, cfg: cfg, next: 1,
		chains: make(map[shortKey]int32, cfg.Records/2), long: map[string]int32{}, links: make([]chain, 0, cfg.Records/2),
		pending: map[uint64]brokenLink{}, hashes: make([]uint64, 0, cfg.Records)}
	if p, ok := cfg.Signatures.(Pinner); ok {
		v.pins = p.Pins()
	}
	return v
}

// Tree is the tree the Verifier built so far.
func (v *Verifier) Tree() *Tree { return v.tree }

// Err is the first tampering found so far (a *Finding), or nil.
func (v *Verifier) Err() error {
	if v.found == nil {
		return nil
	}
	return v.found
}

func (v *Verifier) add(seq uint64, data []byte, p *prepared) error {
	if v.found != nil {
		return v.found
	}
	if !v.expect(seq) {
		return v.found
	}
	if err := v.tree.AppendHash(p.leaf); err != nil {
		return err
	}
	v.next++
	v.rep.Records++
	v.rep.LastSeq = seq
	rec := &p.rec
	if p.err != nil {
		return v.fail(&Finding{Seq: seq, Kind: KindByteEdit, Detail: "the record does not decode as an event: " + p.err.Error()})
	}
	if p.badHash {
		return v.fail(&Finding{Seq: seq, Kind: KindByteEdit, Detail: fmt.Sprintf("the hash of %s event %s does not match its bytes", rec.Type, rec.ID)})
	}
	if v.cfg.Signatures != nil {
		if len(rec.Sig) != 0 {
			v.signedSeen = true
			v.unsigned = append(v.unsigned, held{seq: seq, data: data, rotation: string(rec.Type) == events.TypeKeyRotated})
			if len(v.unsigned) > maxUnchecked {
				if f := v.checkSignatures(seq); f != nil {
					return v.fail(f)
				}
			}
		} else if v.signedSeen {
			return v.fail(&Finding{Seq: seq, Kind: KindForgery, Detail: fmt.Sprintf("%s event %s is unsigned, after signed events", rec.Type, rec.ID)})
		} else if l, ok := v.cfg.Signatures.(UnsignedLimiter); ok {
			if through, ok := l.UnsignedThrough(); ok && seq > through {
				return v.fail(&Finding{Seq: seq, Kind: KindForgery, Detail: fmt.Sprintf("%s event %s is unsigned, after sequence %d, from which the ledger's key history says it signed every event", rec.Type, rec.ID, through)})
			}
		}
	}
	for _, pin := range v.pins {
		if seq != pin.Through {
			continue
		}
		if got, err := v.tree.Root(int64(seq)); err != nil || got != pin.Root {
			return v.fail(&Finding{Seq: 1, Kind: KindAltered,
				Detail: fmt.Sprintf("records 1 to %d are not %s (their tree hash was %s, it is %s)", pin.Through, pin.What, pin.Root, got)})
		}
	}
	if f := v.link(seq, rec, &p.sum); f != nil {
		return v.fail(f)
	}
	if string(rec.Type) == events.TypeCheckpoint {
		if f := v.streamCheckpoint(p.env); f != nil {
			return v.fail(f)
		}
	}
	if f := v.checkTrusted(); f != nil {
		return v.fail(f)
	}
	return nil
}

// Unreadable feeds a record that is there but cannot be read (the store
// reports it corrupt): a byte edit at seq.
func (v *Verifier) Unreadable(seq uint64, reason error) error {
	if v.found != nil {
		return v.found
	}
	if !v.expect(seq) {
		return v.found
	}
	return v.fail(&Finding{Seq: seq, Kind: KindByteEdit, Detail: fmt.Sprintf("the record is unreadable: %v", reason)})
}

// expect checks that seq is the next sequence, recording a finding if not.
func (v *Verifier) expect(seq uint64) bool {
	switch {
	case seq == v.next:
		return true
	case seq > v.next:
		v.fail(&Finding{Seq: v.next, Kind: KindDeletion, Detail: fmt.Sprintf("sequences %d to %d are missing", v.next, seq-1)})
	default:
		v.fail(&Finding{Seq: seq, Kind: KindReorder, Detail: fmt.Sprintf("sequence %d comes after %d", seq, v.next-1)})
	}
	return false
}

// fail makes the first tampering final: f (nil at the end of the stream)
// or an earlier one that the held-back evidence shows: a broken chain link,
// a bad signature, or the suspect range unless a record inside it is
// pinned down.
func (v *Verifier) fail(f *Finding) error {
	best := f
	consider := func(c *Finding) {
		if c != nil && (best == nil || c.Seq < best.Seq) {
			best = c
		}
	}
	agree := true
	if v.suspect != nil {
		agree = v.countsAgree
	}
	pin := v.earliestPending(agree)
	before := ^uint64(0)
	if f != nil {
		before = f.Seq
	}
	if pin != nil && pin.Seq < before {
		before = pin.Seq
	}
	if sig := v.checkSignatures(before); sig != nil {
		pin = sig
	}
	consider(pin)
	// A record the range holds that shows what is wrong pins the range
	// down, whether it is a held-back link or the finding itself (a
	// reorder that ends at the record moved back into a checkpoint's
	// range): the range's first sequence is not a finding of its own.
	pinned := func(c *Finding) bool { return c != nil && c.Seq <= v.suspectHi }
	if v.suspect != nil && !pinned(pin) && !pinned(f) {
		consider(v.suspect)
	}
	if best == nil {
		return nil
	}
	v.found = best
	v.rep.Finding = best
	return best
}

// Finish ends the verification. claimedLast is the stream's last sequence
// as its store reports it (0 if unknown). It checks what only the end can
// show: truncation, trusted checkpoints beyond the stream, chain links
// never resolved, the signatures not covered by a checkpoint.
func (v *Verifier) Finish(claimedLast uint64) Report {
	size := v.tree.Size()
	v.rep.Root, _ = v.tree.Root(size)
	if v.found != nil {
		return v.rep
	}
	var end *Finding
	consider := func(c *Finding) {
		if end == nil || c.Seq < end.Seq {
			end = c
		}
	}
	if m := v.mismatch; m != nil {
		consider(&Finding{Seq: uint64(v.provenBefore(m.cp.Size)) + 1, Kind: KindAltered,
			Detail: fmt.Sprintf("records up to %d do not hash to the root of the trusted checkpoint of size %d", m.cp.Size, m.cp.Size)})
	}
	for _, pin := range v.pins {
		if uint64(size) < pin.Through {
			consider(&Finding{Seq: uint64(size) + 1, Kind: KindTruncation,
				Detail: fmt.Sprintf("the ledger's key history pinned records 1 to %d, %s; the stream ends at %d", pin.Through, pin.What, size)})
		}
	}
	if claimedLast > uint64(size) {
		consider(&Finding{Seq: uint64(size) + 1, Kind: KindTruncation,
			Detail: fmt.Sprintf("the stream says its last sequence is %d, its records end at %d", claimedLast, size)})
	}
	for _, t := range v.trust {
		if t.cp.Size <= size {
			continue
		}
		kind, whose := KindTailTruncation, "an auditor's"
		if t.source == SourceKept {
			kind, whose = KindTruncation, "the ledger's kept"
		}
		consider(&Finding{Seq: uint64(size) + 1, Kind: kind,
			Detail: fmt.Sprintf("%s checkpoint signs %d records, the stream ends at %d", whose, t.cp.Size, size)})
	}
	_ = v.fail(end)
	return v.rep
}

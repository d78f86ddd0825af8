package integrity

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	fastjson "github.com/goccy/go-json"
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

// record is what the verifier reads of every event, as sub-slices of its
// stored bytes (events.Scanner) or decoded (recordJSON); the rest is
// decoded only for checkpoints, signatures, and events not on the
// scanner's path.
type record struct {
	ID, Type, Kind, Aggregate, Prev, Hash, Sig []byte
}

// recordJSON is record as the decoding path reads it.
type recordJSON struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Kind      string `json:"kind"`
	Aggregate string `json:"aggregate"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
	Sig       string `json:"sig"`
}

// hashSuffix is how an event sealed by events.Marshal ends: its hash is
// the last member.
const hashSuffix = `,"hash":"`

// sealedExactly reports whether data ends with its hash member and the
// hash is the SHA-256 of data without that member: the bytes are then
// exactly the bytes that were sealed, which is what
// [events.Envelope.CheckHash] establishes for an event encoded by the
// ledger, at a fraction of the cost (no decode, no re-encode). Records it
// does not recognise take the full check.
func sealedExactly(data []byte, hash string) bool {
	n := len(hashSuffix) + 64 + 2 // the member, the hex hash, `"}`
	if len(hash) != 64 || len(data) < n+1 {
		return false
	}
	cut := len(data) - n
	tail := data[cut:]
	if string(tail[:len(hashSuffix)]) != hashSuffix || string(tail[len(hashSuffix):len(hashSuffix)+64]) != hash || string(tail[n-2:]) != `"}` {
		return false
	}
	h := sha256.New()
	h.Write(data[:cut])
	h.Write([]byte{'}'})
	var sum [sha256.Size]byte
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], h.Sum(sum[:0]))
	return string(got[:]) == hash // lower-case hex, as CheckHash compares
}

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
	// SignaturesChecked counts per-event signatures verified one by one.
	SignaturesChecked int
	// Finding is the first tampering, nil when none was found.
	Finding *Finding
}

// chain is what the chain check remembers of an aggregate: its last two
// events (enough to name a forged second successor of the last but one),
// by their hashes (a record reaches the chain check only once its Hash
// member is proven the lower-case hex of its canonical bytes' SHA-256, so
// the 32 bytes stand for it exactly) and sequences (0: none).
type chain struct {
	last, prev       [sha256.Size]byte
	lastSeq, prevSeq uint64
}

// shortKey holds an aggregate's key (its length first) when it is short,
// as aggregates' are (a kind and a UUID): a map keyed by it compares keys
// in place, without following a string to its bytes.
type shortKey [56]byte

// names reports whether prev, an event's prev member, names the hash h of
// the event at seq (0: no event, named by an empty prev).
func names(prev []byte, h *[sha256.Size]byte, seq uint64) bool {
	if seq == 0 {
		return len(prev) == 0
	}
	if len(prev) != 2*sha256.Size {
		return false
	}
	var x [2 * sha256.Size]byte
	hex.Encode(x[:], h[:])
	return string(x[:]) == string(prev)
}

// brokenLink is an event whose predecessor was not (yet) seen, by the
// first 8 bytes of the predecessor's hash (a collision can only change
// which kind is named, never hide one): seq is the
// event, pred the sequence of its aggregate's last event before it (0 if
// none). If the predecessor turns up later, the events were reordered;
// if the record count is right, pred was edited and re-sealed; else the
// predecessor was deleted.
type brokenLink struct{ seq, pred uint64 }

type trusted struct {
	cp     Checkpoint
	note   []byte
	source Source
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

	scanners []events.Scanner // one per preparing goroutine
	batch    []prepared       // AddBatch's records, reused

	signedSeen bool
	unsigned   []held // signed records not yet covered by a verified checkpoint

	trust    []trusted
	mismatch *trusted // a trusted checkpoint whose root disagreed, awaiting the stream's own
	sizes    []int64  // sizes proven by checkpoints, ascending

	// suspect is the first signed root that disagreed with the records
	// it covers when no single record showed why: a range (suspect.Seq to
	// suspectHi). Verification goes on to find a record that pins it down
	// (a broken chain link, a bad signature) before naming the range.
	suspect     *Finding
	suspectHi   uint64
	countsAgree bool // the suspect's checkpoint counted the records right

	rep Report
}

// maxUnchecked bounds the signed events a Verifier holds back; past it
// (a stream without checkpoints) their signatures are checked at once.
const maxUnchecked = 1 << 14

// NewVerifier returns a Verifier for a stream read from sequence 1.
func NewVerifier(cfg Config) *Verifier {
	t := NewTree()
	if cfg.Records > 0 {
		t.Grow(cfg.Records)
	}
	return &Verifier{tree: t, cfg: cfg, next: 1,
		chains: make(map[shortKey]int32, cfg.Records/2), long: map[string]int32{}, links: make([]chain, 0, cfg.Records/2),
		pending: map[uint64]brokenLink{}}
}

// Tree is the tree the Verifier built so far.
func (v *Verifier) Tree() *Tree { return v.tree }

// Trust adds a checkpoint from outside the stream (a signed note: the
// ledger's kept checkpoint, an auditor's, a bundle's). It is verified with
// the keys at once; the stream must extend it. Call it before Add.
func (v *Verifier) Trust(signed []byte, source Source) error {
	cp, err := OpenCheckpoint(signed, v.cfg.Keys)
	if err != nil {
		return err
	}
	v.trust = append(v.trust, trusted{cp: cp, note: slices.Clone(signed), source: source})
	return nil
}

// Err is the first tampering found so far (a *Finding), or nil.
func (v *Verifier) Err() error {
	if v.found == nil {
		return nil
	}
	return v.found
}

// Add feeds the record at seq with its data bytes exactly as stored. It
// returns the first tampering found so far (a *Finding) or nil; after a
// finding further records are ignored. data must not change afterwards.
func (v *Verifier) Add(seq uint64, data []byte) error {
	if len(v.scanners) == 0 {
		v.scanners = make([]events.Scanner, 1)
	}
	var p prepared
	p.prepare(&v.scanners[0], seq, data)
	return v.add(seq, data, &p)
}

// chunk is how many records one goroutine prepares at a time in AddBatch.
const chunk = 128

// AddBatch feeds records first, first+1, … like Add. The work on each
// record that needs no other record (its leaf hash, reading its members,
// its hash check) runs on all CPUs, chunk by chunk, while the checks that
// depend on the order (continuity, chains, the tree, checkpoints) follow
// in order as soon as each chunk is prepared.
func (v *Verifier) AddBatch(first uint64, records [][]byte) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), (len(records)+chunk-1)/chunk))
	for len(v.scanners) < workers {
		v.scanners = append(v.scanners, events.Scanner{})
	}
	if cap(v.batch) < len(records) {
		v.batch = make([]prepared, len(records))
	}
	ps := v.batch[:len(records)]
	chunks := (len(records) + chunk - 1) / chunk
	ready := make([]chan struct{}, chunks)
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	var next atomic.Int64
	var stop atomic.Bool // a finding: the rest need not be prepared
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := &v.scanners[w]
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				if !stop.Load() {
					for i := c * chunk; i < min((c+1)*chunk, len(records)); i++ {
						ps[i].prepare(sc, first+uint64(i), records[i])
					}
				}
				close(ready[c])
			}
		}()
	}
	defer wg.Wait()
	for c := range chunks {
		<-ready[c]
		for i := c * chunk; i < min((c+1)*chunk, len(records)); i++ {
			err := v.add(first+uint64(i), records[i], &ps[i])
			ps[i] = prepared{} // drop its references to records and events
			if err != nil {
				stop.Store(true)
				return err
			}
		}
	}
	return nil
}

// prepared is the work on one record that needs no other record: its leaf
// hash, reading its members, its hash check.
type prepared struct {
	leaf    tlog.Hash
	rec     record
	err     error             // the record does not decode
	badHash bool              // its hash does not match its bytes
	sum     [sha256.Size]byte // its Hash member, decoded (when the hash matched)
	env     *events.Envelope  // decoded, for a checkpoint (nil otherwise)
}

// prepare reads the record at seq: on the scanner's path (format 2 as the
// ledger writes it: members read in place, the hash computed from the
// stored bytes) or on the decoding path (format 1 sealed byte for byte,
// anything else decoded and re-encoded by CheckHash).
func (p *prepared) prepare(sc *events.Scanner, seq uint64, data []byte) {
	p.leaf = tlog.RecordHash(data)
	var f events.StoredFields
	sealed := false
	if sc.Scan(data, &f) {
		p.rec = record{ID: f.ID, Type: f.Type, Kind: f.Kind, Aggregate: f.Aggregate, Prev: f.Prev, Hash: f.Hash, Sig: f.Sig}
		sealed = f.Sealed()
		p.badHash = !sealed
	} else {
		var r recordJSON
		if err := fastjson.Unmarshal(data, &r); err != nil {
			p.err = err
			return
		}
		if r.Type == "" || r.Kind == "" || r.Aggregate == "" {
			p.err = errors.New("type, kind and aggregate are required")
			return
		}
		p.rec = record{ID: []byte(r.ID), Type: []byte(r.Type), Kind: []byte(r.Kind), Aggregate: []byte(r.Aggregate),
			Prev: []byte(r.Prev), Hash: []byte(r.Hash), Sig: []byte(r.Sig)}
		sealed = sealedExactly(data, r.Hash)
		if !sealed {
			e, err := events.Unmarshal(data)
			if err != nil {
				p.err = err
				return
			}
			e.Sequence = seq
			p.badHash = e.CheckHash() != nil
			sealed = !p.badHash
			p.env = &e
		}
	}
	if sealed {
		_, _ = hex.Decode(p.sum[:], p.rec.Hash) // lower-case hex of a SHA-256: the check proved it
	}
	if string(p.rec.Type) == events.TypeCheckpoint && p.env == nil && !p.badHash {
		e, err := events.Unmarshal(data)
		if err != nil {
			p.err = err
			return
		}
		e.Sequence = seq
		p.env = &e
	}
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

func prefix(hexHash []byte) uint64 {
	var b [8]byte
	if len(hexHash) >= 16 {
		_, _ = hex.Decode(b[:], hexHash[:16])
	}
	return binary.BigEndian.Uint64(b[:])
}

// link checks env's place in its aggregate's chain; sum is its hash.
func (v *Verifier) link(seq uint64, env *record, sum *[sha256.Size]byte) *Finding {
	// The aggregate's key: the kind's length, the kind, the id.
	v.key = binary.AppendUvarint(v.key[:0], uint64(len(env.Kind)))
	v.key = append(append(v.key, env.Kind...), env.Aggregate...)
	var short shortKey
	isShort := len(v.key) < len(short)
	var idx int32
	var had bool
	if isShort {
		short[0] = byte(len(v.key)) // keys of different lengths differ
		copy(short[1:], v.key)
		idx, had = v.chains[short]
	} else {
		idx, had = v.long[string(v.key)]
	}
	var c chain
	if had {
		c = v.links[idx]
	}
	if len(v.pending) > 0 {
		hp := prefix(env.Hash)
		if p, ok := v.pending[hp]; ok {
			delete(v.pending, hp)
			return &Finding{Seq: p.seq, Kind: KindReorder, Detail: fmt.Sprintf("the event at sequence %d follows the event at sequence %d in the chain of %s %s, which comes after it",
				p.seq, seq, env.Kind, env.Aggregate)}
		}
	}
	switch {
	case names(env.Prev, &c.last, c.lastSeq):
	case len(env.Prev) == 0:
		return &Finding{Seq: seq, Kind: KindInsertion, Detail: fmt.Sprintf("%s event %s starts the chain of %s %s a second time",
			env.Type, env.ID, env.Kind, env.Aggregate)}
	case had && c.prevSeq != 0 && names(env.Prev, &c.prev, c.prevSeq):
		return &Finding{Seq: c.lastSeq, Kind: KindInsertion, Detail: fmt.Sprintf("the events at sequences %d and %d both follow the event at sequence %d in the chain of %s %s",
			c.lastSeq, seq, c.prevSeq, env.Kind, env.Aggregate)}
	default:
		pp := prefix(env.Prev)
		if _, ok := v.pending[pp]; !ok {
			v.pending[pp] = brokenLink{seq: seq, pred: c.lastSeq}
		}
	}
	c = chain{last: *sum, lastSeq: seq, prev: c.last, prevSeq: c.lastSeq}
	if had {
		v.links[idx] = c
	} else {
		if isShort {
			v.chains[short] = int32(len(v.links))
		} else {
			v.long[string(v.key)] = int32(len(v.links))
		}
		v.links = append(v.links, c)
	}
	return nil
}

// earliestPending is the first event whose predecessor was never seen, as
// a finding (nil if none). countsAgree says that no record is missing: the
// link broke because its predecessor (the aggregate's event before it) was
// edited and re-sealed; otherwise the predecessor was deleted.
func (v *Verifier) earliestPending(countsAgree bool) *Finding {
	var first brokenLink
	for _, b := range v.pending {
		if first.seq == 0 || b.seq < first.seq {
			first = b
		}
	}
	if first.seq == 0 {
		return nil
	}
	if countsAgree && first.pred != 0 {
		return &Finding{Seq: first.pred, Kind: KindByteEdit, Detail: fmt.Sprintf("the event at sequence %d was changed and re-sealed: the next event of its aggregate, at sequence %d, names another predecessor (or that predecessor was deleted)", first.pred, first.seq)}
	}
	return &Finding{Seq: first.seq, Kind: KindDeletion, Detail: fmt.Sprintf("the predecessor of the event at sequence %d in its aggregate's chain is not in the stream", first.seq)}
}

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
	if v.suspect != nil && (pin == nil || pin.Seq > v.suspectHi) {
		consider(v.suspect)
	}
	if best == nil {
		return nil
	}
	v.found = best
	v.rep.Finding = best
	return best
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
	cp, err := OpenCheckpoint([]byte(c.Note), v.cfg.Keys)
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
	return v.proven(cp, []byte(c.Note))
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
	v.unsigned = v.unsigned[i:]
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

// provenBefore is the largest size below n a checkpoint proved (0 if
// none): the first record a disagreeing trusted root can be about.
func (v *Verifier) provenBefore(n int64) int64 {
	i, _ := slices.BinarySearch(v.sizes, n)
	if i == 0 {
		return 0
	}
	return v.sizes[i-1]
}

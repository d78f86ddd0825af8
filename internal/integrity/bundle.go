package integrity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
)

// BundleFormat is the format name of auditor bundles this package writes
// and reads.
const BundleFormat = "tokenledger-bundle/1"

// MaxBundleBytes bounds the bundle a reader accepts.
const MaxBundleBytes = 1 << 30

// MaxBundleEvents is the most events one bundle (one part of a file)
// holds: the ledger's bundle route answers at most this many, and a
// reader refuses more before it decodes them.
const MaxBundleEvents = 20_000

// Bundle is an auditor bundle: the events of the stream sequences
// FromSeq..ToSeq, each with its stored bytes and an inclusion proof in the
// tree the signed Checkpoint (a C2SP tlog-checkpoint note) covers. With
// the ledger's public verifier key alone, [VerifyBundle] proves that these
// are exactly the records the ledger wrote at these sequences, none
// missing: the JSON format is documented in the README ("Auditor").
type Bundle struct {
	Format     string       `json:"format"`
	Checkpoint string       `json:"checkpoint"` // signed note
	FromSeq    uint64       `json:"fromSeq"`
	ToSeq      uint64       `json:"toSeq"`
	Events     BundleEvents `json:"events"`
	// Consistency, when present, proves that the tree of an earlier
	// checkpoint (of size Consistency.From) is a prefix of this one.
	Consistency *BundleConsistency `json:"consistency,omitempty"`
}

// BundleEvent is one record of a bundle.
type BundleEvent struct {
	Seq   uint64      `json:"seq"`
	Data  []byte      `json:"data"`  // the stored bytes, base64
	Proof []tlog.Hash `json:"proof"` // RFC 6962 inclusion proof, base64 hashes
}

// BundleEvents are a bundle's records. Decoded, they are at most
// MaxBundleEvents: an event of a few bytes in the file ("{}") is a
// BundleEvent of 56 in memory, so a count bounded only by the file's size
// would cost a reader tens of times the part it holds.
type BundleEvents []BundleEvent

// UnmarshalJSON decodes the events one by one, refusing more than
// MaxBundleEvents and unknown fields.
func (es *BundleEvents) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null
		*es = nil
		return nil
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("integrity: bundle events: not an array")
	}
	var out BundleEvents
	for dec.More() {
		if len(out) == MaxBundleEvents {
			return fmt.Errorf("integrity: bundle events: more than %d in one bundle part", MaxBundleEvents)
		}
		out = append(out, BundleEvent{})
		if err := dec.Decode(&out[len(out)-1]); err != nil {
			return fmt.Errorf("integrity: bundle event %d: %w", len(out), err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*es = out
	return nil
}

// BundleConsistency is a consistency proof from a tree of From records.
type BundleConsistency struct {
	From  int64       `json:"from"`
	Proof []tlog.Hash `json:"proof"`
}

// BuildBundle makes the bundle of records from..to from tree t, covered by
// the signed checkpoint signed of cp (cp.Size ≥ to), reading each record's
// stored bytes through read (called in order). since > 0 adds the
// consistency proof from the tree of since records.
func BuildBundle(t *Tree, cp Checkpoint, signed []byte, from, to uint64, since int64, read func(seq uint64) ([]byte, error)) (*Bundle, error) {
	if from < 1 || from > to || to > uint64(cp.Size) {
		return nil, fmt.Errorf("%w: records %d to %d under a checkpoint of %d", ErrSize, from, to, cp.Size)
	}
	b := &Bundle{Format: BundleFormat, Checkpoint: string(signed), FromSeq: from, ToSeq: to, Events: make([]BundleEvent, 0, to-from+1)}
	for seq := from; seq <= to; seq++ {
		data, err := read(seq)
		if err != nil {
			return nil, fmt.Errorf("integrity: bundle: read %d: %w", seq, err)
		}
		p, err := t.InclusionProof(seq, cp.Size)
		if err != nil {
			return nil, err
		}
		b.Events = append(b.Events, BundleEvent{Seq: seq, Data: data, Proof: p})
	}
	if since > 0 {
		p, err := t.ConsistencyProof(since, cp.Size)
		if err != nil {
			return nil, err
		}
		b.Consistency = &BundleConsistency{From: since, Proof: p}
	}
	return b, nil
}

// ReadBundle decodes a bundle (at most MaxBundleBytes).
func ReadBundle(r io.Reader) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(io.LimitReader(r, MaxBundleBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("integrity: read bundle: %w", err)
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("integrity: read bundle: format %q, want %q", b.Format, BundleFormat)
	}
	return &b, nil
}

// BundleReport is what VerifyBundle proved.
type BundleReport struct {
	Checkpoint Checkpoint
	// Note is the bundle's checkpoint as the keys signed it: its text and
	// the signatures that verified (see [OpenCheckpointNote]).
	Note    []byte
	FromSeq uint64
	ToSeq   uint64
	Events  int
	// Complete: FromSeq is 1 and ToSeq the checkpoint's size: the bundle
	// holds the whole log as the checkpoint signs it.
	Complete bool
	// Extends is set when a kept checkpoint was given and the bundle's
	// checkpoint was proven to extend it.
	Extends bool
}

// VerifyBundle checks a bundle with the ledger's public keys alone: the
// checkpoint's signature, that the events are the sequences FromSeq to
// ToSeq without a gap, each proven by its inclusion proof to sit at its
// sequence in the signed tree, each sealed (its hash matches its bytes)
// and linked to the previous event of its aggregate inside the bundle;
// with sigs, each event's signature; with kept (an auditor's earlier
// checkpoint, a signed note), that the bundle's tree extends it. The first
// failure is a *Finding naming the sequence and the kind.
func VerifyBundle(b *Bundle, keys note.Verifiers, sigs Signatures, kept []byte) (BundleReport, error) {
	var rep BundleReport
	// The range first: a finding names a sequence inside it.
	if b.FromSeq < 1 || b.FromSeq > b.ToSeq {
		return rep, fmt.Errorf("%w: the bundle names records %d to %d", ErrSize, b.FromSeq, b.ToSeq)
	}
	cp, signed, err := OpenCheckpointNote([]byte(b.Checkpoint), keys)
	if err != nil {
		return rep, &Finding{Seq: b.FromSeq, Kind: KindInsertion, Detail: "the bundle's checkpoint: " + err.Error()}
	}
	rep.Checkpoint, rep.Note, rep.FromSeq, rep.ToSeq = cp, signed, b.FromSeq, b.ToSeq
	if b.ToSeq > uint64(cp.Size) {
		return rep, fmt.Errorf("%w: the bundle names records %d to %d under a checkpoint of %d", ErrSize, b.FromSeq, b.ToSeq, cp.Size)
	}
	if kept != nil {
		k, err := OpenCheckpoint(kept, keys)
		if err != nil {
			return rep, fmt.Errorf("integrity: the kept checkpoint: %w", err)
		}
		if err := checkExtends(b, cp, k); err != nil {
			return rep, err
		}
		rep.Extends = true
	}
	chains := map[aggKey]string{}
	want := b.FromSeq
	for i := range b.Events {
		e := &b.Events[i]
		// Events outside the range the bundle names: the file is
		// malformed, which says nothing of the records.
		switch {
		case e.Seq > b.ToSeq:
			return rep, fmt.Errorf("%w: the bundle names records %d to %d and holds sequence %d", ErrSize, b.FromSeq, b.ToSeq, e.Seq)
		case i == 0 && e.Seq < b.FromSeq:
			return rep, fmt.Errorf("%w: the bundle names records %d to %d and starts with sequence %d", ErrSize, b.FromSeq, b.ToSeq, e.Seq)
		}
		switch {
		case e.Seq > want:
			for _, later := range b.Events[i+1:] {
				if later.Seq == want {
					return rep, &Finding{Seq: want, Kind: KindReorder, Detail: fmt.Sprintf("sequence %d comes after %d", want, e.Seq)}
				}
			}
			return rep, &Finding{Seq: want, Kind: KindDeletion, Detail: fmt.Sprintf("the bundle lacks sequences %d to %d", want, e.Seq-1)}
		case e.Seq < want:
			return rep, &Finding{Seq: e.Seq, Kind: KindReorder, Detail: fmt.Sprintf("sequence %d comes after %d", e.Seq, want-1)}
		}
		want++
		if err := CheckInclusion(e.Proof, cp.Size, cp.Root, e.Seq, tlog.RecordHash(e.Data)); err != nil {
			return rep, &Finding{Seq: e.Seq, Kind: KindByteEdit, Detail: "the record is not the one the checkpoint signs at this sequence"}
		}
		env, err := events.Unmarshal(e.Data)
		if err != nil {
			return rep, &Finding{Seq: e.Seq, Kind: KindByteEdit, Detail: "the record does not decode as an event: " + err.Error()}
		}
		env.Sequence = e.Seq
		if err := env.CheckHash(); err != nil {
			return rep, &Finding{Seq: e.Seq, Kind: KindByteEdit, Detail: fmt.Sprintf("the hash of %s event %s does not match its bytes", env.Type, env.ID)}
		}
		if sigs != nil {
			if err := sigs.Check(&env); err != nil {
				return rep, &Finding{Seq: e.Seq, Kind: KindInsertion, Detail: fmt.Sprintf("%s event %s: %v", env.Type, env.ID, err)}
			}
		}
		key := aggKey{env.AggregateKind, env.AggregateID}
		if prev, ok := chains[key]; ok && env.Prev != prev {
			return rep, &Finding{Seq: e.Seq, Kind: KindInsertion, Detail: fmt.Sprintf("the event does not follow the previous event of %s %s in the bundle", env.AggregateKind, env.AggregateID)}
		}
		chains[key] = env.Hash
	}
	if want != b.ToSeq+1 {
		return rep, &Finding{Seq: want, Kind: KindDeletion, Detail: fmt.Sprintf("the bundle lacks sequences %d to %d", want, b.ToSeq)}
	}
	rep.Events = len(b.Events)
	rep.Complete = b.FromSeq == 1 && b.ToSeq == uint64(cp.Size)
	return rep, nil
}

// aggKey names one aggregate's chain.
type aggKey struct{ kind, id string }

// checkExtends proves that the bundle's checkpoint cp extends the kept one.
func checkExtends(b *Bundle, cp, kept Checkpoint) error {
	switch {
	case kept.Size > cp.Size:
		return &Finding{Seq: uint64(cp.Size) + 1, Kind: KindTailTruncation,
			Detail: fmt.Sprintf("the kept checkpoint signs %d records, the bundle's only %d", kept.Size, cp.Size)}
	case kept.Size == cp.Size:
		if kept.Root != cp.Root {
			return &Finding{Seq: uint64(cp.Size), Kind: KindFork, Detail: fmt.Sprintf("two signed checkpoints of size %d with different roots", cp.Size)}
		}
		return nil
	case kept.Size == 0:
		return nil
	}
	if b.Consistency == nil || b.Consistency.From != kept.Size {
		return fmt.Errorf("integrity: the bundle carries no consistency proof from size %d (export it with --since)", kept.Size)
	}
	if err := CheckConsistency(b.Consistency.Proof, cp.Size, cp.Root, kept.Size, kept.Root); err != nil {
		return &Finding{Seq: uint64(kept.Size), Kind: KindFork,
			Detail: fmt.Sprintf("the kept checkpoint of size %d and the bundle's of size %d are both signed but not consistent: the histories differ at or before sequence %d", kept.Size, cp.Size, kept.Size)}
	}
	return nil
}

// MarshalBundle encodes a bundle as indented JSON.
func MarshalBundle(b *Bundle) ([]byte, error) {
	out, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return nil, fmt.Errorf("integrity: encode bundle: %w", err)
	}
	return append(out, '\n'), nil
}

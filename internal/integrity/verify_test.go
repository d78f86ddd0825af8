package integrity_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// baseLog is 30 events over tok-0…tok-6 with a checkpoint after every 9
// records (at sequences 10, 20, 30), then 5 events without one.
func baseLog(t *testing.T, k key) *testLog {
	l := newTestLog(t, k)
	l.fill(27, 10)
	l.fill(5, 0)
	return l
}

// reorderAcross is the sequences of two consecutive events of one
// aggregate on either side of the checkpoint at sequence cp.
func reorderAcross(t *testing.T, records [][]byte, cp int) (int, int) {
	t.Helper()
	last := map[string]int{} // each aggregate's last sequence so far
	for i, r := range records {
		seq, agg := i+1, decode(t, r).AggregateID
		if a := last[agg]; a != 0 && a < cp && seq > cp && strings.HasPrefix(agg, "tok-") {
			return a, seq
		}
		last[agg] = seq
	}
	t.Fatalf("no aggregate has events on both sides of sequence %d", cp)
	return 0, 0
}

// reseal decodes a record, lets edit change it, seals it again (its Prev
// kept) and returns the new bytes: an attacker who knows the format.
func reseal(t *testing.T, data []byte, edit func(*events.Envelope)) []byte {
	t.Helper()
	env, err := events.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	edit(&env)
	if err := env.Seal(); err != nil {
		t.Fatal(err)
	}
	b, err := events.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, data []byte) events.Envelope {
	t.Helper()
	env, err := events.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// seqOf finds the sequence of the n-th event (1-based) of aggregate agg.
func seqOf(t *testing.T, records [][]byte, agg string, n int) int {
	t.Helper()
	for i, r := range records {
		if decode(t, r).AggregateID == agg {
			if n--; n == 0 {
				return i + 1
			}
		}
	}
	t.Fatalf("no event %d of %s", n, agg)
	return 0
}

// forgedToken is a well-formed, sealed event the ledger never wrote: a new
// admin token, as the attacker made one.
func forgedToken(t *testing.T) []byte {
	env, err := events.New("forged", "tok-forged", events.TokenCreated{TokenType: "admin", Name: "backdoor", Environment: "*", AllProjects: true,
		Verifier: string(bytes.Repeat([]byte("ab"), 32))}, newTestLog(t, key{}).t0)
	if err != nil {
		t.Fatal(err)
	}
	env.Actor = events.System
	if err := env.Seal(); err != nil {
		t.Fatal(err)
	}
	b, _ := events.Marshal(&env)
	return b
}

func TestVerifierNamesTheFirstBadSequenceAndTheKind(t *testing.T) {
	k := newKey(t, "ledger.example")
	stranger := newKey(t, "ledger.example")
	cfg := integrity.Config{Keys: k.keys}

	type tamperCase struct {
		name string
		// tamper returns the records to feed, their sequences (nil: 1…),
		// and the stream's claimed last sequence (0: the number fed).
		tamper   func(rs [][]byte) ([][]byte, []uint64, uint64)
		trust    [][]byte
		auditor  [][]byte
		wantSeq  uint64
		wantKind integrity.Kind
	}
	cases := func(l *testLog) []tamperCase {
		n := len(l.records) // 35
		return []tamperCase{
			{
				name: "byte_edit_breaks_the_hash",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					rs[12] = bytes.Replace(rs[12], []byte(`"v":1`), []byte(`"v":2`), 1)
					return rs, nil, 0
				},
				wantSeq:  13,
				wantKind: integrity.KindByteEdit,
			},
			{
				// A member the decoder drops: the decoded event hashes as
				// sealed, the stored object does not.
				name: "unknown_member_added_to_a_stored_record",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					rs[12] = append([]byte(`{"note":"edited",`), rs[12][1:]...)
					return rs, nil, 0
				},
				wantSeq:  13,
				wantKind: integrity.KindByteEdit,
			},
			{
				name:     "byte_edit_that_is_no_longer_json",
				tamper:   func(rs [][]byte) ([][]byte, []uint64, uint64) { rs[3] = rs[3][:40]; return rs, nil, 0 },
				wantSeq:  4,
				wantKind: integrity.KindByteEdit,
			},
			{
				// tok-1's second event (seq 9) is edited and re-sealed: its
				// successor (seq 16) names the old hash, the record count is
				// right, the checkpoint at 20 disagrees.
				name: "resealed_edit_inside_a_chain",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					s := seqOf(t, rs, "tok-1", 2)
					rs[s-1] = reseal(t, rs[s-1], func(e *events.Envelope) { e.Reason = "nothing happened" })
					return rs, nil, 0
				},
				wantSeq:  uint64(seqOf(t, l.records, "tok-1", 2)),
				wantKind: integrity.KindByteEdit,
			},
			{
				// The last event of an aggregate, re-sealed, breaks no link:
				// only the checkpoint after it shows the edit.
				name: "resealed_edit_of_an_aggregates_last_event_before_a_checkpoint",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					rs[28] = reseal(t, rs[28], func(e *events.Envelope) { e.Reason = "nothing happened" }) // seq 29, tok-? never seen again before 30
					return rs, nil, 0
				},
				wantSeq:  20, // the first record the checkpoint at 20 (of size 19) does not prove
				wantKind: integrity.KindAltered,
			},
			{
				name: "deletion_leaves_a_gap",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					seqs := make([]uint64, 0, n)
					out := [][]byte{}
					for i := range rs {
						if i == 14 {
							continue
						}
						out = append(out, rs[i])
						seqs = append(seqs, uint64(i+1))
					}
					return out, seqs, 0
				},
				wantSeq:  15,
				wantKind: integrity.KindDeletion,
			},
			{
				// tok-3's second event removed and the rest renumbered: its
				// successor names a predecessor that is gone, and the
				// checkpoint counts one record more than precede it.
				name: "deletion_renumbered",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					i := seqOf(t, rs, "tok-3", 2) - 1
					return append(rs[:i:i], rs[i+1:]...), nil, 0
				},
				wantSeq:  uint64(seqOf(t, l.records, "tok-3", 3) - 1),
				wantKind: integrity.KindDeletion,
			},
			{
				// A forged admin token put right before the checkpoint event at
				// 20: the checkpoint signs 19 records and 20 precede it.
				name: "insertion_before_a_checkpoint",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					out := append(clone(rs[:19]), forgedToken(t))
					return append(out, rs[19:]...), nil, 0
				},
				wantSeq:  20,
				wantKind: integrity.KindInsertion,
			},
			{
				// A forged admin token in the middle: extra leaves under the
				// next checkpoint's root.
				name: "insertion_in_the_middle",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					out := append(clone(rs[:14]), forgedToken(t))
					return append(out, rs[14:]...), nil, 0
				},
				wantSeq:  10, // the first record the checkpoint at 10 (of size 9) does not prove
				wantKind: integrity.KindInsertion,
			},
			{
				// A forged event chained onto tok-2's last event before the
				// genuine successor: two events follow one.
				name: "insertion_of_a_second_successor",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					s := seqOf(t, rs, "tok-2", 2) // 10? a checkpoint sits there; seqOf counts tok-2 events only
					forged := reseal(t, rs[s-1], func(e *events.Envelope) {
						e.ID, e.Prev = "forged", decode(t, rs[s-1]).Hash
					})
					next := seqOf(t, rs, "tok-2", 3)
					out := append(clone(rs[:next-1]), forged)
					return append(out, rs[next-1:]...), nil, 0
				},
				wantSeq:  uint64(seqOf(t, l.records, "tok-2", 3)),
				wantKind: integrity.KindInsertion,
			},
			{
				// A genuine event of tok-3 (its second, which has a
				// successor) published again at the end: the copy is the
				// insertion, not the honest events around the original.
				name: "genuine_event_copied_at_the_end",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					return append(rs, rs[seqOf(t, rs, "tok-3", 2)-1]), nil, 0
				},
				wantSeq:  uint64(n + 1),
				wantKind: integrity.KindInsertion,
			},
			{
				// The same with tok-3's last event: the copy repeats it.
				name: "aggregates_last_event_copied_at_the_end",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					last := 0
					for i, r := range rs {
						if decode(t, r).AggregateID == "tok-3" {
							last = i
						}
					}
					return append(rs, rs[last]), nil, 0
				},
				wantSeq:  uint64(n + 1),
				wantKind: integrity.KindInsertion,
			},
			{
				name: "reorder_inside_a_chain",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					a, b := seqOf(t, rs, "tok-3", 2), seqOf(t, rs, "tok-3", 3)
					rs[a-1], rs[b-1] = rs[b-1], rs[a-1]
					return rs, nil, 0
				},
				wantSeq:  uint64(seqOf(t, l.records, "tok-3", 2)),
				wantKind: integrity.KindReorder,
			},
			{
				// The later event of a pair is moved back into the range a
				// checkpoint covers: the checkpoint's root disagrees first,
				// but the reorder found afterwards names the record moved
				// (found by CI: the range's first sequence was named).
				name: "reorder_back_into_a_checkpoints_range",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					a, b := reorderAcross(t, rs, 10)
					rs[a-1], rs[b-1] = rs[b-1], rs[a-1]
					return rs, nil, 0
				},
				wantSeq:  func() uint64 { a, _ := reorderAcross(t, l.records, 10); return uint64(a) }(),
				wantKind: integrity.KindReorder,
			},
			{
				name: "sequences_going_back",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					return rs[:6], []uint64{1, 2, 3, 4, 5, 3}, 0
				},
				wantSeq:  3,
				wantKind: integrity.KindReorder,
			},
			{
				name: "checkpoint_signed_by_another_key",
				tamper: func(rs [][]byte) ([][]byte, []uint64, uint64) {
					forged := newTestLog(t, stranger)
					for _, r := range rs[:29] {
						forged.add(r)
					}
					forged.checkpoint(stranger)
					return append(forged.records, rs[30:]...), nil, 0
				},
				wantSeq:  30,
				wantKind: integrity.KindInsertion,
			},
			{
				name:     "truncation_against_the_streams_last_sequence",
				tamper:   func(rs [][]byte) ([][]byte, []uint64, uint64) { return rs[:25], nil, uint64(n) },
				wantSeq:  26,
				wantKind: integrity.KindTruncation,
			},
			{
				name:     "truncation_against_the_kept_checkpoint",
				tamper:   func(rs [][]byte) ([][]byte, []uint64, uint64) { return rs[:25], nil, 0 },
				trust:    [][]byte{l.notes[29]},
				wantSeq:  26,
				wantKind: integrity.KindTruncation,
			},
			{
				name:     "tail_truncation_against_an_auditors_checkpoint",
				tamper:   func(rs [][]byte) ([][]byte, []uint64, uint64) { return rs[:25], nil, 0 },
				auditor:  [][]byte{l.notes[29]},
				wantSeq:  26,
				wantKind: integrity.KindTailTruncation,
			},
		}
	}
	// The same stream twice: as the ledger writes it (each record read by
	// events.Scanner), and with each event's id escaped (\u0065 for its
	// first letter), which the scanner leaves to the decoding path; both
	// hash to the same events, so the same tampering must be named.
	scanned := baseLog(t, k)
	decoded := newTestLog(t, k)
	decoded.mark = func(r []byte) []byte { return bytes.Replace(r, []byte(`"id":"e`), []byte(`"id":"\u0065`), 1) }
	decoded.fill(27, 10)
	decoded.fill(5, 0)
	var sc events.Scanner
	var f events.StoredFields
	if !sc.Scan(scanned.records[0], &f) || sc.Scan(decoded.records[0], &f) {
		t.Fatal("the scanner must read the first stream and leave the second to the decoding path")
	}
	for _, path := range []struct {
		name string
		l    *testLog
	}{{"scanned", scanned}, {"decoded", decoded}} {
		l := path.l
		for _, tt := range cases(l) {
			for _, batch := range []bool{false, true} {
				name := path.name + "/" + tt.name
				if batch {
					name += "/batch"
				}
				t.Run(name, func(t *testing.T) {
					rs, seqs, claimed := tt.tamper(clone(l.records))
					v := integrity.NewVerifier(cfg)
					for _, s := range tt.trust {
						if err := v.Trust(s, integrity.SourceKept); err != nil {
							t.Fatal(err)
						}
					}
					for _, s := range tt.auditor {
						if err := v.Trust(s, integrity.SourceAuditor); err != nil {
							t.Fatal(err)
						}
					}
					switch {
					case batch && seqs == nil:
						_ = v.AddBatch(1, rs)
					default:
						for i, r := range rs {
							seq := uint64(i + 1)
							if seqs != nil {
								seq = seqs[i]
							}
							if v.Add(seq, r) != nil {
								break
							}
						}
					}
					rep := v.Finish(claimed)
					f := rep.Finding
					if f == nil {
						t.Fatalf("no finding; want %s at %d", tt.wantKind, tt.wantSeq)
					}
					if f.Seq != tt.wantSeq || f.Kind != tt.wantKind {
						t.Fatalf("got %s at %d (%s); want %s at %d", f.Kind, f.Seq, f.Detail, tt.wantKind, tt.wantSeq)
					}
					var as *integrity.Finding
					if !errors.As(v.Err(), &as) || as != f {
						t.Fatalf("Err() = %v, want the finding", v.Err())
					}
				})
			}
		}
	}
}

func TestVerifierProvesAnIntactStream(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	v := integrity.NewVerifier(integrity.Config{Keys: k.keys})
	if err := v.Trust(l.notes[19], integrity.SourceAuditor); err != nil {
		t.Fatal(err)
	}
	for i, r := range l.records {
		if err := v.Add(uint64(i+1), r); err != nil {
			t.Fatalf("seq %d: %v", i+1, err)
		}
	}
	rep := v.Finish(uint64(len(l.records)))
	if rep.Finding != nil {
		t.Fatal(rep.Finding)
	}
	root, _ := l.tree.Root(int64(len(l.records)))
	if rep.Records != 35 || rep.LastSeq != 35 || rep.Proven != 29 || rep.Checkpoints != 4 || rep.Root != root {
		t.Fatalf("report %+v", rep)
	}
	if !bytes.Equal(rep.Latest, l.notes[29]) {
		t.Fatalf("latest checkpoint %q, want the one of size 29", rep.Latest)
	}
}

func TestVerifierWithoutTheKeyTrustsNoCheckpoint(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	rep := verify(t, integrity.Config{}, l.records, 0)
	if f := rep.Finding; f == nil || f.Kind != integrity.KindInsertion || f.Seq != 10 {
		t.Fatalf("got %v, want an insertion at the first checkpoint (10)", f)
	}
}

func TestVerifierNamesAForkBetweenTwoSignedHistories(t *testing.T) {
	k := newKey(t, "ledger.example")
	a, b := newTestLog(t, k), newTestLog(t, k)
	a.fill(9, 10) // 9 events and a checkpoint at 10: shared
	for _, r := range a.records {
		b.add(r)
	}
	b.lastCP, b.last = a.lastCP, map[string]string{}
	for agg, h := range a.last {
		b.last[agg] = h
	}
	a.revoke("tok-1") // 11
	b.revoke("tok-2") // 11: the histories part here
	a.fill(3, 0)
	b.fill(3, 0)
	a.checkpoint(k) // size 14 in A
	b.checkpoint(k) // size 14 in B, another root
	b.fill(2, 0)

	rep := verify(t, integrity.Config{Keys: k.keys}, b.records, 0, func(v *integrity.Verifier) {
		if err := v.Trust(a.notes[14], integrity.SourceAuditor); err != nil {
			t.Fatal(err)
		}
	})
	if f := rep.Finding; f == nil || f.Kind != integrity.KindFork || f.Seq != 14 {
		t.Fatalf("got %v, want a fork at 14", f)
	}
}

// edSignatures is a per-event signature scheme for the tests: an Ed25519
// signature over the event's hex hash, kept beside the stream by hash
// (this build's envelope has no "sig" member yet; signed records carry
// one for the Verifier to see).
type edSignatures struct {
	pub  ed25519.PublicKey
	sigs map[string][]byte
}

func (s edSignatures) Check(env *events.Envelope) error {
	if !ed25519.Verify(s.pub, []byte(env.Hash), s.sigs[env.Hash]) {
		return errors.New("bad signature")
	}
	return nil
}

// withSig marks a record as signed: a "sig" member after its hash.
func withSig(r []byte) []byte {
	return append(bytes.TrimSuffix(bytes.Clone(r), []byte("}")), []byte(`,"sig":"c2ln"}`)...)
}

func TestVerifierChecksSignaturesOnlyWhereNoCheckpointVouches(t *testing.T) {
	k := newKey(t, "ledger.example")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	l := newTestLog(t, k)
	l.mark = withSig // every record signed, checkpoints included
	l.fill(27, 10)
	l.fill(5, 0)
	sigs := func() edSignatures {
		s := edSignatures{pub: pub, sigs: map[string][]byte{}}
		for _, r := range l.records {
			h := decode(t, r).Hash
			s.sigs[h] = ed25519.Sign(priv, []byte(h))
		}
		return s
	}
	t.Run("intact", func(t *testing.T) {
		rep := verify(t, integrity.Config{Keys: k.keys, Signatures: sigs()}, l.records, 0)
		if rep.Finding != nil || rep.SignaturesChecked != 6 {
			t.Fatalf("finding %v, %d signatures checked; want none and the 6 from the last checkpoint event on", rep.Finding, rep.SignaturesChecked)
		}
	})
	t.Run("bad_signature_under_a_verified_checkpoint_is_not_checked", func(t *testing.T) {
		s := sigs()
		s.sigs[decode(t, l.records[4]).Hash] = make([]byte, ed25519.SignatureSize)
		rep := verify(t, integrity.Config{Keys: k.keys, Signatures: s}, l.records, 0)
		if rep.Finding != nil || rep.SignaturesChecked != 6 {
			t.Fatalf("finding %v, %d signatures checked: the checkpoint vouches for sequence 5", rep.Finding, rep.SignaturesChecked)
		}
	})
	t.Run("unsigned_after_signed", func(t *testing.T) {
		rs := clone(l.records)
		rs[32] = bytes.Replace(rs[32], []byte(`,"sig":"c2ln"`), nil, 1)
		rep := verify(t, integrity.Config{Keys: k.keys, Signatures: sigs()}, rs, 0)
		if f := rep.Finding; f == nil || f.Kind != integrity.KindForgery || f.Seq != 33 {
			t.Fatalf("got %v, want a forgery at 33", f)
		}
	})
	t.Run("bad_signature_in_the_tail", func(t *testing.T) {
		s := sigs()
		s.sigs[decode(t, l.records[31]).Hash] = make([]byte, ed25519.SignatureSize)
		rep := verify(t, integrity.Config{Keys: k.keys, Signatures: s}, l.records, 0)
		if f := rep.Finding; f == nil || f.Kind != integrity.KindForgery || f.Seq != 32 {
			t.Fatalf("got %v, want a forgery at 32", f)
		}
	})
	t.Run("forgery_pinned_under_a_failed_checkpoint", func(t *testing.T) {
		// An attacker without the key changes the last event of an
		// aggregate before checkpoint 30 and re-seals it: the checkpoint
		// fails, and the bad signature names the record.
		rs := clone(l.records)
		s := sigs()
		old := decode(t, rs[28]).Hash
		rs[28] = withSig(reseal(t, rs[28], func(e *events.Envelope) { e.Reason = "nothing happened" }))
		s.sigs[decode(t, rs[28]).Hash] = s.sigs[old] // the old signature, over another hash
		rep := verify(t, integrity.Config{Keys: k.keys, Signatures: s}, rs, 0)
		if f := rep.Finding; f == nil || f.Kind != integrity.KindForgery || f.Seq != 29 {
			t.Fatalf("got %v, want a forgery at 29", f)
		}
	})
}

func TestVerifierReportsAnUnreadableRecordAsAByteEdit(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	v := integrity.NewVerifier(integrity.Config{Keys: k.keys})
	for i := 0; i < 6; i++ {
		_ = v.Add(uint64(i+1), l.records[i])
	}
	err := v.Unreadable(7, errors.New("checksum mismatch"))
	var f *integrity.Finding
	if !errors.As(err, &f) || f.Seq != 7 || f.Kind != integrity.KindByteEdit {
		t.Fatalf("got %v", err)
	}
	if again := v.Add(8, l.records[7]); again != err {
		t.Fatalf("a finding is final; got %v", again)
	}
	if msg := fmt.Sprint(err); msg != "integrity: byte-edit at sequence 7: the record is unreadable: checksum mismatch" {
		t.Fatalf("message %q", msg)
	}
}

// Aggregates whose kind and id do not fit the chain check's short keys
// are followed as well: an edited, re-sealed event in the middle of such
// a chain is named.
func TestVerifierFollowsTheChainsOfLongAggregateIDs(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := newTestLog(t, k)
	long := func(i int) string { return fmt.Sprintf("tok-%d-%s", i, bytes.Repeat([]byte("x"), 80)) }
	for i := 0; i < 12; i++ {
		l.event(long(i%3), events.TokenExpired{ExpiresAt: l.t0})
	}
	if rep := verify(t, integrity.Config{Keys: k.keys}, l.records, 0); rep.Finding != nil {
		t.Fatalf("intact stream: %v", rep.Finding)
	}
	rs := clone(l.records)
	rs[4] = reseal(t, rs[4], func(e *events.Envelope) { e.Reason = "nothing happened" }) // seq 5: long(1)'s second event
	rep := verify(t, integrity.Config{Keys: k.keys}, rs, 0)
	if f := rep.Finding; f == nil || f.Kind != integrity.KindByteEdit || f.Seq != 5 {
		t.Fatalf("got %v, want a byte edit at 5", f)
	}
}

// pinned is a Signatures that signs nothing (the records are unsigned)
// and knows the prefixes a key history pinned.
type pinned []integrity.Pin

func (pinned) Check(*events.Envelope) error { return errors.New("no record here is signed") }
func (p pinned) Pins() []integrity.Pin      { return p }

func TestVerifierHoldsTheStreamToThePrefixesTheKeyHistoryPinned(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k) // 35 records
	root := func(n int64) [32]byte {
		r, err := l.tree.Root(n)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	unsigned := integrity.Pin{Through: 12, Root: root(12), What: "the unsigned events"}
	rotation := integrity.Pin{Through: 31, Root: root(31), What: "the records checked at the rotation"}
	other := root(11) // a root of other records
	tests := []struct {
		name     string
		pins     pinned
		records  int // the stream's first records kept
		wantKind integrity.Kind
		wantSeq  uint64
		wantText string
	}{
		{name: "both_pins_hold", pins: pinned{unsigned, rotation}, records: 35},
		{name: "a_stream_that_ends_at_a_pin_holds_it", pins: pinned{unsigned, rotation}, records: 31},
		{name: "other_records_under_the_unsigned_pin_are_altered", pins: pinned{{Through: 12, Root: other, What: "the unsigned events"}, rotation}, records: 35,
			wantKind: integrity.KindAltered, wantSeq: 1, wantText: "records 1 to 12 are not the unsigned events"},
		{name: "other_records_under_the_rotation_pin_are_altered", pins: pinned{unsigned, {Through: 31, Root: other, What: "the records checked at the rotation"}}, records: 35,
			wantKind: integrity.KindAltered, wantSeq: 1, wantText: "records 1 to 31 are not the records checked at the rotation"},
		{name: "a_stream_cut_before_the_rotation_pin_is_truncated", pins: pinned{unsigned, rotation}, records: 25,
			wantKind: integrity.KindTruncation, wantSeq: 26, wantText: "pinned records 1 to 31, the records checked at the rotation; the stream ends at 25"},
		{name: "a_stream_cut_before_both_pins_is_truncated_at_its_end", pins: pinned{unsigned, rotation}, records: 8,
			wantKind: integrity.KindTruncation, wantSeq: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verify(t, integrity.Config{Keys: k.keys, Signatures: tt.pins}, l.records[:tt.records], 0)
			f := rep.Finding
			if tt.wantKind == "" {
				if f != nil {
					t.Fatalf("finding %v, want none", f)
				}
				return
			}
			if f == nil || f.Kind != tt.wantKind || f.Seq != tt.wantSeq || !strings.Contains(f.Detail, tt.wantText) {
				t.Fatalf("finding %v, want %s at %d saying %q", f, tt.wantKind, tt.wantSeq, tt.wantText)
			}
		})
	}
}

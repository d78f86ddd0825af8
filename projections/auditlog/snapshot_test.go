package auditlog_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// snapshotQueries cover every index a snapshot carries.
var snapshotQueries = []auditlog.Query{
	{}, {ActorID: "43"}, {Actors: []string{"Bob", "ci"}}, {CredentialID: "sat-1"}, {Project: "alpha"}, {Project: "beta"},
	{Project: auditlog.AllProjects}, {Environment: "production"}, {Environment: "development"}, {Type: "token."},
	{Kind: events.KindProject}, {Since: at(5), Until: at(12)}, {Project: "beta", Desc: true}, {AggregateID: tok(2)},
}

// TestSnapshotRestoresTheIndexAReplayBuilds: a Log restored from the
// snapshot of any prefix of the stream answers every query, time lookup
// and count as the replayed Log does, and the events after the prefix
// bring it to the full replay's answers (scopes remembered across the
// snapshot annotate later events of a token).
func TestSnapshotRestoresTheIndexAReplayBuilds(t *testing.T) {
	t.Parallel()
	evs := fixture(t)
	s := newStream(t)
	s.publish(evs...)
	apply := func(l *auditlog.Log, evs []events.Envelope) {
		for _, e := range evs {
			if err := l.Apply(e); err != nil {
				t.Fatalf("apply seq %d: %v", e.Sequence, err)
			}
		}
	}
	full := auditlog.New(s.store)
	apply(full, evs)
	for k := 0; k <= len(evs); k++ {
		replayed := auditlog.New(s.store)
		apply(replayed, evs[:k])
		snap, err := replayed.AppendSnapshot(nil)
		if err != nil {
			t.Fatal(err)
		}
		restored := auditlog.New(s.store)
		if err := restored.RestoreSnapshot(snap); err != nil {
			t.Fatalf("prefix %d: %v", k, err)
		}
		sameAnswers(t, k, restored, replayed)
		apply(restored, evs[k:])
		sameAnswers(t, k, restored, full)
	}
}

func sameAnswers(t *testing.T, k int, got, want *auditlog.Log) {
	t.Helper()
	if got.LastApplied() != want.LastApplied() || got.Len() != want.Len() {
		t.Fatalf("prefix %d: last %d len %d, want %d %d", k, got.LastApplied(), got.Len(), want.LastApplied(), want.Len())
	}
	for _, q := range snapshotQueries {
		g, gn := got.Query(q)
		w, wn := want.Query(q)
		if !slices.Equal(seqs(g), seqs(w)) || gn != wn {
			t.Fatalf("prefix %d: query %+v: %v (next %d), want %v (next %d)", k, q, seqs(g), gn, seqs(w), wn)
		}
	}
	for seq := uint64(0); seq <= 16; seq++ {
		gt, gok := got.TimeOf(seq)
		wt, wok := want.TimeOf(seq)
		if gok != wok || !gt.Equal(wt) {
			t.Fatalf("prefix %d: time of %d: %v %v, want %v %v", k, seq, gt, gok, wt, wok)
		}
		if g, w := got.SeqAt(at(seq).Add(time.Second)), want.SeqAt(at(seq).Add(time.Second)); g != w {
			t.Fatalf("prefix %d: seq at %v: %d, want %d", k, at(seq), g, w)
		}
	}
}

// TestSnapshotKeepsTheGapsOfTheStream: sequences the log never applied
// stay unknown after a restore (no time, not counted).
func TestSnapshotKeepsTheGapsOfTheStream(t *testing.T) {
	t.Parallel()
	replayed := auditlog.New(nil)
	for _, seq := range []uint64{3, 4, 7, 8, 600} {
		if err := replayed.Apply(raw(seq, events.KindProject, "p", "project.updated", `{}`, ada, viaPAT)); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := replayed.AppendSnapshot(nil)
	if err != nil {
		t.Fatal(err)
	}
	restored := auditlog.New(nil)
	if err := restored.RestoreSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(0); seq <= 601; seq++ {
		gt, gok := restored.TimeOf(seq)
		wt, wok := replayed.TimeOf(seq)
		if gok != wok || !gt.Equal(wt) {
			t.Fatalf("time of %d: %v %v, want %v %v", seq, gt, gok, wt, wok)
		}
		if g, w := restored.SeqAt(at(seq)), replayed.SeqAt(at(seq)); g != w {
			t.Fatalf("seq at %v: %d, want %d", at(seq), g, w)
		}
	}
	if restored.Len() != 5 {
		t.Fatalf("restored log counts %d events, want 5", restored.Len())
	}
}

// TestRestoreSnapshotRefusesTruncatedInput: every truncation fails and
// leaves the log empty; so do an unknown version and a used log.
func TestRestoreSnapshotRefusesTruncatedInput(t *testing.T) {
	t.Parallel()
	l := auditlog.New(nil)
	for _, e := range fixture(t) {
		if err := l.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := l.AppendSnapshot(nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(snap) {
		r := auditlog.New(nil)
		if err := r.RestoreSnapshot(snap[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes restored", n, len(snap))
		}
		if r.LastApplied() != 0 || r.Len() != 0 {
			t.Fatalf("cut to %d: the log is not empty after the failure", n)
		}
	}
	if err := auditlog.New(nil).RestoreSnapshot(append([]byte{7}, snap[1:]...)); err == nil {
		t.Fatal("a snapshot of an unknown version restored")
	}
	if err := l.RestoreSnapshot(snap); err == nil {
		t.Fatal("a snapshot restored into a log that applied events")
	}
}

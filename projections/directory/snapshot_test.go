package directory_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// TestSnapshotRestoresTheStateAReplayBuilds: a Directory restored from the
// snapshot of any prefix of the stream has the replayed one's digest and
// lookups, and the events after the prefix bring it to the full replay's
// state.
func TestSnapshotRestoresTheStateAReplayBuilds(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	s.ev("checkout", events.ProjectMemberRemoved{Member: bot})
	s.ev("sa-bot", events.ServiceAccountUpdated{Name: "Robot", RootRole: events.RoleEditor})
	s.ev("production", events.EnvironmentDeleted{})
	s.ev("r-read", events.RoleDeleted{})
	s.ev("u-bob", events.UserDeleted{})
	s.ev("checkout", events.ProjectDeleted{})
	s.ev("default", events.ProjectUpdated{Name: "Default!", Description: "d"})
	s.ev("production", events.EnvironmentCreated{Type: "production"})
	full := directory.New()
	mustApply(t, full, s.all...)
	for k := 0; k <= len(s.all); k++ {
		replayed := directory.New()
		mustApply(t, replayed, s.all[:k]...)
		restored := directory.New()
		if err := restored.RestoreSnapshot(replayed.AppendSnapshot(nil)); err != nil {
			t.Fatalf("prefix %d: %v", k, err)
		}
		if restored.Digest() != replayed.Digest() {
			t.Fatalf("prefix %d: the restored digest differs from the replayed one", k)
		}
		for _, login := range []string{"alice", "bob@example.com", "carol", "bot"} {
			g, gok := restored.UserByLogin(login)
			w, wok := replayed.UserByLogin(login)
			if gok != wok || g.ID != w.ID {
				t.Fatalf("prefix %d: login %s: %v %v, want %v %v", k, login, g, gok, w, wok)
			}
		}
		mustApply(t, restored, s.all[k:]...)
		if restored.Digest() != full.Digest() {
			t.Fatalf("prefix %d then the rest: digest differs from the full replay", k)
		}
	}
}

// TestRestoreSnapshotRefusesTruncatedOrForeignInput: truncations, an
// unknown version and a used Directory fail and leave it empty.
func TestRestoreSnapshotRefusesTruncatedOrForeignInput(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	d := directory.New()
	mustApply(t, d, s.all...)
	snap := d.AppendSnapshot(nil)
	empty := directory.New().Digest()
	for n := range len(snap) {
		r := directory.New()
		if err := r.RestoreSnapshot(snap[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes restored", n, len(snap))
		}
		if r.Digest() != empty {
			t.Fatalf("cut to %d: the directory is not empty after the failure", n)
		}
	}
	if err := directory.New().RestoreSnapshot(append([]byte{42}, snap[1:]...)); err == nil {
		t.Fatal("a snapshot of an unknown version restored")
	}
	if err := d.RestoreSnapshot(snap); err == nil {
		t.Fatal("a snapshot restored into a directory that applied events")
	}
}

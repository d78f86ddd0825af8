package tokenset_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// snapshotHistory is a stream that exercises every part of the state a
// snapshot carries: scopes, owners, expiries (one with a zone offset),
// revocations, a verifier two tokens share, and deletions that orphan.
func snapshotHistory(t *testing.T) []events.Envelope {
	owner := events.Owner{Kind: events.ActorUser, ID: "u-1"}
	pat := created("user:pat")
	pat.TokenType, pat.Environment, pat.Path, pat.Owner, pat.OnBehalfOf = events.TokenPersonal, "", events.PathPAT, &owner, true
	all := created(secret("*", "development", 9))
	all.AllProjects, all.Projects = true, nil
	shared := secret("default", "development", 7)
	offset := time.Date(2027, 1, 2, 3, 4, 5, 6, time.FixedZone("", 2*3600))
	staging := created(secret("default", "staging", 4), "default")
	staging.Environment = "staging"
	return []events.Envelope{
		ev(t, 1, "t-1", created(secret("checkout", "development", 1), "checkout")),
		ev(t, 2, "t-2", created(secret("[]", "development", 2), "checkout", "default")),
		ev(t, 3, "t-pat", pat),
		ev(t, 4, "t-all", all),
		ev(t, 5, "t-shared-old", created(shared, "default")),
		ev(t, 6, "t-1", events.TokenExpiryChanged{New: &offset}),
		ev(t, 7, "t-shared-new", created(shared, "default")),
		ev(t, 8, "t-shared-old", events.TokenRevoked{Reason: events.ReasonDeleted}),
		ev(t, 9, "t-staging", staging),
		ev(t, 10, "checkout", events.ProjectDeleted{}),
		ev(t, 11, "t-2", events.TokenScoped{Projects: []string{"default"}, PreviousProjects: []string{"checkout", "default"}}),
		ev(t, 12, "staging", events.EnvironmentDeleted{}),
		ev(t, 13, "t-all", events.TokenExpiryChanged{New: ptr(at(20))}),
		ev(t, 14, "t-all", events.TokenExpired{}),
		ev(t, 15, "u-1", events.UserDeleted{}),
		ev(t, 16, "t-late", created(secret("default", "development", 16), "default")),
		ev(t, 17, "t-1", events.TokenRevoked{Reason: events.ReasonDeleted}),
	}
}

// TestSnapshotRestoresTheStateAReplayBuilds: a Set restored from the
// snapshot of any prefix of the stream has the replayed Set's digest,
// answers verifications, lookups, Due and Stale alike, and the events
// after the prefix bring it to the full replay's state.
func TestSnapshotRestoresTheStateAReplayBuilds(t *testing.T) {
	evs := snapshotHistory(t)
	full := newSet(t, evs...)
	secrets := []string{secret("checkout", "development", 1), secret("[]", "development", 2), "user:pat",
		secret("*", "development", 9), secret("default", "development", 7), secret("default", "staging", 4),
		secret("default", "development", 16), "not-a-token"}
	for k := 0; k <= len(evs); k++ {
		replayed := newSet(t, evs[:k]...)
		restored := tokenset.New()
		if err := restored.RestoreSnapshot(replayed.AppendSnapshot(nil)); err != nil {
			t.Fatalf("prefix %d: %v", k, err)
		}
		if got, want := restored.Digest(), replayed.Digest(); got != want {
			t.Fatalf("prefix %d: restored digest %s, replayed %s", k, got, want)
		}
		same(t, k, restored, replayed, secrets)
		mustApply(t, restored, evs[k:]...)
		if got, want := restored.Digest(), full.Digest(); got != want {
			t.Fatalf("prefix %d then the rest: digest %s, full replay %s", k, got, want)
		}
		same(t, k, restored, full, secrets)
	}
}

func same(t *testing.T, k int, got, want *tokenset.Set, secrets []string) {
	t.Helper()
	for _, sec := range secrets {
		for _, now := range []time.Time{at(1), at(30), at(1e8)} {
			gt, gs := got.VerifyAt(sec, now)
			wt, ws := want.VerifyAt(sec, now)
			if gs != ws || (gt == nil) != (wt == nil) || (gt != nil && gt.ID != wt.ID) {
				t.Fatalf("prefix %d: verify %q at %v: %v %v, want %v %v", k, sec, now, gt, gs, wt, ws)
			}
		}
	}
	if g, w := ids(got.Stale(0)), ids(want.Stale(0)); !slices.Equal(g, w) {
		t.Fatalf("prefix %d: stale %v, want %v", k, g, w)
	}
	if g, w := ids(got.Due(at(1e8))), ids(want.Due(at(1e8))); !slices.Equal(g, w) {
		t.Fatalf("prefix %d: due %v, want %v", k, g, w)
	}
	for _, p := range []string{"default", "checkout"} {
		if g, w := ids(got.ByProject(p)), ids(want.ByProject(p)); !slices.Equal(g, w) {
			t.Fatalf("prefix %d: project %s: %v, want %v", k, p, g, w)
		}
	}
	if g, w := ids(got.ByOwner(events.ActorUser, "u-1")), ids(want.ByOwner(events.ActorUser, "u-1")); !slices.Equal(g, w) {
		t.Fatalf("prefix %d: owner: %v, want %v", k, g, w)
	}
	for _, kind := range []string{events.KindProject, events.KindEnvironment} {
		for _, id := range []string{"checkout", "staging"} {
			if got.Deleted(kind, id) != want.Deleted(kind, id) {
				t.Fatalf("prefix %d: deleted %s %s differs", k, kind, id)
			}
		}
	}
	if g, w := got.All(), want.All(); len(g) != len(w) {
		t.Fatalf("prefix %d: %d tokens, want %d", k, len(g), len(w))
	} else {
		for i := range g {
			if g[i].ExpiresAt.String() != w[i].ExpiresAt.String() || (g[i].Projects == nil) != (w[i].Projects == nil) {
				t.Fatalf("prefix %d: token %s: expiry %v projects %#v, want %v %#v", k, g[i].ID, g[i].ExpiresAt, g[i].Projects, w[i].ExpiresAt, w[i].Projects)
			}
		}
	}
}

// TestRestoreSnapshotRefusesTruncatedOrForeignInput: every truncation of
// a snapshot, an unknown version and a restore into a used Set fail
// without panicking, and leave the Set empty.
func TestRestoreSnapshotRefusesTruncatedOrForeignInput(t *testing.T) {
	snap := newSet(t, snapshotHistory(t)...).AppendSnapshot(nil)
	for n := range len(snap) {
		s := tokenset.New()
		if err := s.RestoreSnapshot(snap[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes restored", n, len(snap))
		}
		if s.Len() != 0 || s.LastApplied() != 0 {
			t.Fatalf("cut to %d: the set kept %d tokens", n, s.Len())
		}
	}
	future := append([]byte{99}, snap[1:]...)
	if err := tokenset.New().RestoreSnapshot(future); err == nil {
		t.Fatal("a snapshot of an unknown version restored")
	}
	used := newSet(t, snapshotHistory(t)[:1]...)
	if err := used.RestoreSnapshot(snap); err == nil {
		t.Fatal("a snapshot restored into a set that applied events")
	}
}

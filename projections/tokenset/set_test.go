package tokenset_test

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

const tokA = "0193a000-0000-7000-8000-00000000000a"

var secA = secret("alpha", "development", 0xa)

// Ensure each token event changes exactly what it records.
func TestApply_event_effects(t *testing.T) {
	t.Parallel()
	base := func(tb testing.TB) events.Envelope { return ev(tb, 1, tokA, created(secA, "alpha", "beta")) }
	exp := at(100)
	cases := []struct {
		name  string
		later func(tb testing.TB) []events.Envelope
		want  func(tok *tokenset.Token) // edits the token as created into the expected one
	}{
		{
			name:  "created_records_every_field",
			later: func(testing.TB) []events.Envelope { return nil },
			want:  func(*tokenset.Token) {},
		},
		{
			name: "scoped_replaces_the_project_list",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{ev(tb, 2, tokA, events.TokenScoped{Projects: []string{"beta"}, PreviousProjects: []string{"alpha", "beta"}})}
			},
			want: func(tok *tokenset.Token) { tok.Projects = []string{"beta"}; tok.Version = 2 },
		},
		{
			name: "expiry_changed_sets_the_new_expiry",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{ev(tb, 2, tokA, events.TokenExpiryChanged{New: &exp})}
			},
			want: func(tok *tokenset.Token) { tok.ExpiresAt = exp; tok.Version = 2 },
		},
		{
			name: "expiry_changed_to_never_clears_the_expiry",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{
					ev(tb, 2, tokA, events.TokenExpiryChanged{New: &exp}),
					ev(tb, 3, tokA, events.TokenExpiryChanged{Previous: &exp}),
				}
			},
			want: func(tok *tokenset.Token) { tok.Version = 3 },
		},
		{
			name: "expired_is_recorded",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{
					ev(tb, 2, tokA, events.TokenExpiryChanged{New: ptr(at(3))}),
					ev(tb, 4, tokA, events.TokenExpired{ExpiresAt: at(3)}),
				}
			},
			want: func(tok *tokenset.Token) { tok.ExpiresAt = at(3); tok.ExpiredRecorded = true; tok.Version = 4 },
		},
		{
			name: "expiry_changed_after_expired_clears_the_record",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{
					ev(tb, 2, tokA, events.TokenExpiryChanged{New: ptr(at(3))}),
					ev(tb, 4, tokA, events.TokenExpired{ExpiresAt: at(3)}),
					ev(tb, 5, tokA, events.TokenExpiryChanged{Previous: ptr(at(3)), New: &exp}),
				}
			},
			want: func(tok *tokenset.Token) { tok.ExpiresAt = exp; tok.Version = 5 },
		},
		{
			name: "revoked_records_time_and_reason",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{ev(tb, 2, tokA, events.TokenRevoked{Reason: events.ReasonCompromised})}
			},
			want: func(tok *tokenset.Token) {
				tok.Revoked, tok.RevokedAt, tok.RevokeReason, tok.Version = true, at(2), events.ReasonCompromised, 2
			},
		},
		{
			name: "second_revocation_keeps_the_first_time_and_reason",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{
					ev(tb, 2, tokA, events.TokenRevoked{Reason: events.ReasonRotated}),
					ev(tb, 3, tokA, events.TokenRevoked{Reason: events.ReasonDeleted}),
				}
			},
			want: func(tok *tokenset.Token) {
				tok.Revoked, tok.RevokedAt, tok.RevokeReason, tok.Version = true, at(2), events.ReasonRotated, 3
			},
		},
		{
			name: "other_aggregate_kinds_leave_tokens_alone",
			later: func(tb testing.TB) []events.Envelope {
				return []events.Envelope{raw(2, events.KindUser, "7", "user.created", `{"name":"alice"}`)}
			},
			want: func(*tokenset.Token) {},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSet(t, base(t))
			first, _ := s.ByID(tokA)
			later := tc.later(t)
			mustApply(t, s, later...)

			want := first
			tc.want(&want)
			got, ok := s.ByID(tokA)
			if !ok {
				t.Fatal("token gone")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("token\n got %+v\nwant %+v", got, want)
			}
			wantLast := uint64(1)
			if len(later) > 0 {
				wantLast = later[len(later)-1].Sequence
			}
			if s.LastApplied() != wantLast {
				t.Errorf("LastApplied = %d, want %d", s.LastApplied(), wantLast)
			}
		})
	}
}

// Ensure token.created copies every field of the payload and envelope.
func TestApply_created_fields(t *testing.T) {
	t.Parallel()
	c := events.TokenCreated{
		TokenType: events.TokenPersonal, Name: "my pat", Owner: &events.Owner{Kind: events.ActorUser, ID: "42"},
		Environment: "production", AllProjects: true, ExpiresAt: ptr(at(500)), Path: events.PathPAT,
		Verifier: events.VerifierHex("user:abc"), Hint: "user…abc", OnBehalfOf: true,
	}
	s := newSet(t, ev(t, 9, tokA, c))
	got, _ := s.ByID(tokA)
	want := tokenset.Token{
		ID: tokA, Type: events.TokenPersonal, Name: "my pat", Owner: &events.Owner{Kind: events.ActorUser, ID: "42"},
		Environment: "production", AllProjects: true, ExpiresAt: at(500), CreatedAt: at(9), CreatedSeq: 9,
		Path: events.PathPAT, Hint: "user…abc", OnBehalfOf: true, CreatedBy: alice, Version: 9,
	}
	if got.Verifier() != events.Verifier("user:abc") {
		t.Errorf("Verifier() is not the SHA-256 of the secret")
	}
	if got := tokenset.WithoutVerifier(got); !reflect.DeepEqual(got, want) {
		t.Errorf("token\n got %+v\nwant %+v", got, want)
	}
}

// Ensure events that cannot be applied are errors that leave the set as it
// was, and never panics.
func TestApply_rejects_corrupt_events(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     func(tb testing.TB) events.Envelope
		corrupt bool // wraps ErrCorrupt
	}{
		{"event_for_unknown_token", func(tb testing.TB) events.Envelope {
			return ev(tb, 5, "no-such-token", events.TokenRevoked{Reason: events.ReasonDeleted})
		}, true},
		{"second_created_for_one_id", func(tb testing.TB) events.Envelope {
			return ev(tb, 5, tokA, created(secret("x", "y", 1)))
		}, true},
		{"unknown_token_event_type", func(testing.TB) events.Envelope {
			return raw(5, events.KindToken, tokA, "token.renamed", `{"name":"x"}`)
		}, true},
		{"payload_of_another_kind_on_a_token", func(testing.TB) events.Envelope {
			return raw(5, events.KindToken, tokA, "user.created", `{}`)
		}, true},
		{"unknown_schema_version", func(tb testing.TB) events.Envelope {
			e := ev(tb, 5, tokA, events.TokenRevoked{Reason: events.ReasonDeleted})
			e.Version = 99
			return e
		}, true},
		{"malformed_payload", func(testing.TB) events.Envelope {
			return raw(5, events.KindToken, tokA, events.TypeTokenRevoked, `{"reason":`)
		}, true},
		{"null_payload_for_unknown_token", func(testing.TB) events.Envelope {
			return raw(5, events.KindToken, "other", events.TypeTokenScoped, `null`)
		}, true},
		{"short_verifier", func(tb testing.TB) events.Envelope {
			c := created(secret("x", "y", 2))
			c.Verifier = "abcd"
			return ev(tb, 5, "b", c)
		}, true},
		{"verifier_not_hex", func(tb testing.TB) events.Envelope {
			c := created(secret("x", "y", 2))
			c.Verifier = "zz" + c.Verifier[2:]
			return ev(tb, 5, "b", c)
		}, true},
		{"no_stream_sequence", func(tb testing.TB) events.Envelope {
			e := ev(tb, 5, tokA, events.TokenRevoked{Reason: events.ReasonDeleted})
			e.Sequence = 0
			return e
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSet(t, ev(t, 1, tokA, created(secA, "alpha")))
			before := s.Digest()
			err := s.Apply(tc.env(t))
			if err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			if got := errors.Is(err, tokenset.ErrCorrupt); got != tc.corrupt {
				t.Errorf("errors.Is(%v, ErrCorrupt) = %v, want %v", err, got, tc.corrupt)
			}
			if s.Digest() != before || s.LastApplied() != 1 {
				t.Errorf("state changed by a rejected event (LastApplied %d)", s.LastApplied())
			}
		})
	}
}

// Ensure Apply is idempotent by sequence: events at or below LastApplied
// are ignored, even when they could not be applied.
func TestApply_is_idempotent_by_sequence(t *testing.T) {
	t.Parallel()
	evs := []events.Envelope{
		ev(t, 1, tokA, created(secA, "alpha")),
		ev(t, 2, tokA, events.TokenScoped{Projects: []string{"beta"}, PreviousProjects: []string{"alpha"}}),
		raw(3, events.KindProject, "beta", "project.created", `{}`),
		ev(t, 4, tokA, events.TokenRevoked{Reason: events.ReasonDeleted}),
	}
	s := newSet(t, evs...)
	want := s.Digest()
	cases := []struct {
		name string
		env  events.Envelope
	}{
		{"same_event_again", evs[3]},
		{"older_event_again", evs[1]},
		{"older_created_again", evs[0]},
		{"older_sequence_that_would_be_corrupt", raw(2, events.KindToken, "nope", "token.renamed", `{`)},
	}
	for _, tc := range cases {
		if err := s.Apply(tc.env); err != nil {
			t.Errorf("%s: Apply = %v, want nil", tc.name, err)
		}
		if got := s.Digest(); got != want {
			t.Errorf("%s: state changed", tc.name)
		}
	}
	if s.LastApplied() != 4 || s.Len() != 1 {
		t.Errorf("LastApplied = %d, Len = %d; want 4, 1", s.LastApplied(), s.Len())
	}
}

// Ensure the project index follows scope changes and leaves all-projects
// tokens out.
func TestByProject_follows_scope_changes(t *testing.T) {
	t.Parallel()
	all := created(secret("*", "development", 3))
	all.AllProjects = true
	s := newSet(t,
		ev(t, 1, "a", created(secret("p", "development", 1), "alpha", "beta")),
		ev(t, 2, "b", created(secret("p", "development", 2), "beta")),
		ev(t, 3, "all", all),
	)
	before, _ := s.ByID("a")
	check := func(step string, want map[string][]string) {
		t.Helper()
		for project, wantIDs := range want {
			if got := ids(s.ByProject(project)); !slices.Equal(got, wantIDs) {
				t.Errorf("%s: ByProject(%q) = %v, want %v", step, project, got, wantIDs)
			}
		}
	}
	check("created", map[string][]string{"alpha": {"a"}, "beta": {"a", "b"}, "gamma": {}, "*": {}})

	mustApply(t, s, ev(t, 4, "a", events.TokenScoped{Projects: []string{"gamma"}, PreviousProjects: []string{"alpha", "beta"}}))
	check("a_rescoped", map[string][]string{"alpha": {}, "beta": {"b"}, "gamma": {"a"}})

	mustApply(t, s, ev(t, 5, "all", events.TokenScoped{Projects: []string{"alpha"}}))
	check("all_narrowed", map[string][]string{"alpha": {"all"}, "gamma": {"a"}})
	if tok, _ := s.ByID("all"); tok.AllProjects {
		t.Error("token.scoped left AllProjects set: a scope must never stay widened")
	}

	mustApply(t, s, ev(t, 6, "b", events.TokenScoped{Projects: nil, PreviousProjects: []string{"beta"}}))
	check("b_lost_its_last_project", map[string][]string{"beta": {}})

	if !slices.Equal(before.Projects, []string{"alpha", "beta"}) {
		t.Errorf("a Token handed out earlier changed: Projects = %v", before.Projects)
	}
}

// Ensure the other lookups find what they should.
func TestLookups(t *testing.T) {
	t.Parallel()
	pat := func(sec, name, owner string) events.TokenCreated {
		c := created(sec)
		c.TokenType, c.Name, c.Path, c.Owner = events.TokenPersonal, name, events.PathPAT, &events.Owner{Kind: events.ActorUser, ID: owner}
		return c
	}
	secs := []string{"user:aaa", "user:bbb", "user:ccc", secret("p", "e", 4)}
	s := newSet(t,
		ev(t, 3, "t3", pat(secs[0], "laptop", "42")),
		raw(4, events.KindUser, "42", "user.created", `{}`),
		ev(t, 5, "t5", pat(secs[1], "ci", "42")),
		ev(t, 6, "t6", pat(secs[2], "laptop", "43")),
		ev(t, 7, "t7", created(secs[3], "p")),
		ev(t, 8, "t5", events.TokenRevoked{Reason: events.ReasonDeleted}),
	)
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"all_in_created_order", ids(s.All()), []string{"t3", "t5", "t6", "t7"}},
		{"by_name_not_unique", ids(s.ByName("laptop")), []string{"t3", "t6"}},
		{"by_name_unknown", ids(s.ByName("nope")), []string{}},
		{"by_owner_includes_revoked", ids(s.ByOwner(events.ActorUser, "42")), []string{"t3", "t5"}},
		{"by_owner_other_kind", ids(s.ByOwner(events.ActorServiceAccount, "42")), []string{}},
	}
	for _, tc := range cases {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if tok, ok := s.ByCreatedSeq(5); !ok || tok.ID != "t5" {
		t.Errorf("ByCreatedSeq(5) = %q, %v; want t5", tok.ID, ok)
	}
	if _, ok := s.ByCreatedSeq(4); ok {
		t.Error("ByCreatedSeq(4) found a token for a user event")
	}
	if _, ok := s.ByID("nope"); ok {
		t.Error("ByID found an unknown id")
	}
	if tok, ok := s.Lookup(secs[1]); !ok || tok.ID != "t5" || !tok.Revoked {
		t.Errorf("Lookup(revoked secret) = %q revoked=%v, %v; want t5 revoked", tok.ID, tok.Revoked, ok)
	}
	if _, ok := s.Lookup("user:zzz"); ok {
		t.Error("Lookup found an unknown secret")
	}
	if s.Len() != 4 || s.LastApplied() != 8 {
		t.Errorf("Len = %d, LastApplied = %d; want 4, 8", s.Len(), s.LastApplied())
	}
}

// Ensure Due lists exactly the tokens whose expiry passed without a
// token.expired record, revoked ones left out.
func TestDue(t *testing.T) {
	t.Parallel()
	withExp := func(sec string, exp time.Time) events.TokenCreated {
		c := created(sec, "p")
		c.ExpiresAt = &exp
		return c
	}
	s := newSet(t,
		ev(t, 1, "late", withExp("s1", at(50))),
		ev(t, 2, "early", withExp("s2", at(20))),
		ev(t, 3, "never", created("s3", "p")),
		ev(t, 4, "future", withExp("s4", at(500))),
		ev(t, 5, "revoked", withExp("s5", at(10))),
		ev(t, 6, "revoked", events.TokenRevoked{Reason: events.ReasonDeleted}),
		ev(t, 7, "recorded", withExp("s7", at(10))),
		ev(t, 60, "recorded", events.TokenExpired{ExpiresAt: at(10)}),
		ev(t, 61, "extended", withExp("s8", at(10))),
		ev(t, 62, "extended", events.TokenExpired{ExpiresAt: at(10)}),
		ev(t, 63, "extended", events.TokenExpiryChanged{Previous: ptr(at(10)), New: ptr(at(40))}),
	)
	cases := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"before_any_expiry", at(0), []string{}},
		{"exactly_at_expiry", at(20), []string{"early"}},
		{"ordered_by_expiry", at(100), []string{"early", "extended", "late"}},
	}
	for _, tc := range cases {
		if got := ids(s.Due(tc.now)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Ensure two sets fed the same events have the same digest, and one more
// event of any kind changes it.
func TestDigest(t *testing.T) {
	t.Parallel()
	evs := []events.Envelope{
		ev(t, 1, "a", created(secret("p", "e", 1), "p", "q")),
		ev(t, 2, "b", created(secret("p", "e", 2), "q")),
		ev(t, 3, "a", events.TokenScoped{Projects: []string{"q"}, PreviousProjects: []string{"p", "q"}}),
		ev(t, 4, "b", events.TokenExpiryChanged{New: ptr(at(9))}),
	}
	s1, s2 := newSet(t, evs...), newSet(t, evs...)
	if s1.Digest() != s2.Digest() {
		t.Fatal("two replays of the same events differ")
	}
	if newSet(t).Digest() == s1.Digest() {
		t.Fatal("empty set has the digest of a full one")
	}
	more := []struct {
		name string
		env  events.Envelope
	}{
		{"token_event", ev(t, 5, "b", events.TokenRevoked{Reason: events.ReasonDeleted})},
		{"other_kind_event", raw(5, events.KindProject, "p", "project.deleted", `{}`)},
		{"token_expired", ev(t, 5, "b", events.TokenExpired{ExpiresAt: at(9)})},
	}
	for _, m := range more {
		s3 := newSet(t, evs...)
		mustApply(t, s3, m.env)
		if s3.Digest() == s1.Digest() {
			t.Errorf("%s: one more event left the digest unchanged", m.name)
		}
	}
}

// Ensure readers run while a writer applies (for -race) and always see a
// whole token.
func TestSet_concurrent_verify_and_apply(t *testing.T) {
	t.Parallel()
	s := tokenset.New()
	const n = 3000 // enough to grow the verifier index while readers probe it
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tok, st := s.VerifyAt(secret("p", "e", i%n), at(0))
				if st != tokenset.Unknown && tok.Name != "sdk" {
					t.Errorf("half-applied token: %+v", tok)
					return
				}
				// Each version is whole: created (odd sequence) with
				// project p, scoped (even) to q; never one's version
				// with the other's projects.
				if st != tokenset.Unknown {
					want := map[uint64]string{1: "p", 0: "q"}[tok.Version%2]
					if len(tok.Projects) != 1 || tok.Projects[0] != want {
						t.Errorf("token %s at version %d lists %v, want [%s]", tok.ID, tok.Version, tok.Projects, want)
						return
					}
				}
				_ = s.ByProject("p")
				_ = s.Due(at(0))
			}
		}()
	}
	for i := 0; i < n; i++ {
		mustApply(t, s, ev(t, uint64(2*i+1), "t"+secret("", "", i), created(secret("p", "e", i), "p")))
		mustApply(t, s, ev(t, uint64(2*i+2), "t"+secret("", "", i), events.TokenScoped{Projects: []string{"q"}}))
	}
	close(stop)
	wg.Wait()
	if s.Len() != n {
		t.Errorf("Len = %d, want %d", s.Len(), n)
	}
}

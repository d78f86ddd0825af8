package auditlog_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at is the Time of the event with sequence seq in the fixtures.
func at(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Minute) }

var (
	ada    = events.Actor{Kind: events.ActorUser, ID: "42", Name: "Ada"}
	bob    = events.Actor{Kind: events.ActorUser, ID: "43", Name: "Bob"}
	ci     = events.Actor{Kind: events.ActorServiceAccount, ID: "sa-1", Name: "ci"}
	viaPAT = events.Via{CredentialID: "pat-7", CredentialType: events.TokenPersonal, RemoteAddr: "10.0.0.1", UserAgent: "curl/8", RequestID: "req-a"}
	viaSA  = events.Via{CredentialID: "sat-1", CredentialType: events.TokenServiceAccount, RequestID: "req-b"}
	viaSSO = events.Via{CredentialType: "auth-proxy", RemoteAddr: "10.0.0.2", RequestID: "req-c"}
)

// tok is a token aggregate id of the fixtures.
func tok(n int) string { return fmt.Sprintf("0193a000-0000-7000-8000-%012d", n) }

// ev is a stored envelope of payload p.
func ev(tb testing.TB, seq uint64, id string, p events.Payload, actor events.Actor, via events.Via) events.Envelope {
	tb.Helper()
	env, err := events.New(fmt.Sprintf("01EV%022d", seq), id, p, at(seq))
	if err != nil {
		tb.Fatal(err)
	}
	env.Sequence, env.Actor, env.Via = seq, actor, via
	return env
}

// raw is a stored envelope with a hand-made type and payload.
func raw(seq uint64, kind, id, typ, data string, actor events.Actor, via events.Via) events.Envelope {
	return events.Envelope{
		ID: fmt.Sprintf("01RAW%021d", seq), Type: typ, Version: 1, AggregateKind: kind, AggregateID: id,
		Time: at(seq), Actor: actor, Via: via, Data: json.RawMessage(data), Sequence: seq,
	}
}

func created(env, name string, projects ...string) events.TokenCreated {
	return events.TokenCreated{
		TokenType: events.TokenClient, Name: name, Environment: env, Projects: projects,
		Path: events.PathAdminAPI, Verifier: events.VerifierHex(name), Hint: "x…" + name,
	}
}

// fixture is a small stream of every kind of event the log sees.
func fixture(tb testing.TB) []events.Envelope {
	tb.Helper()
	all := created("production", "everything")
	all.AllProjects = true
	pat := created("development", "laptop")
	pat.TokenType, pat.Owner, pat.Path = events.TokenPersonal, &events.Owner{Kind: events.ActorUser, ID: "43"}, events.PathPAT
	revoked := ev(tb, 9, tok(1), events.TokenRevoked{Reason: events.ReasonCompromised}, bob, viaSSO)
	revoked.Reason = "leaked in a CI log"
	return []events.Envelope{
		raw(1, events.KindProject, "alpha", "project.created", `{"name":"Alpha"}`, ada, viaPAT),
		raw(2, events.KindProject, "beta", "project.created", `{"name":"Beta"}`, ada, viaPAT),
		raw(3, events.KindEnvironment, "production", "environment.created", `{}`, ada, viaPAT),
		ev(tb, 4, tok(1), created("production", "checkout", "alpha", "beta"), ada, viaPAT),
		ev(tb, 5, tok(2), created("development", "search", "beta"), ci, viaSA),
		ev(tb, 6, tok(3), all, ada, viaPAT),
		ev(tb, 7, tok(4), pat, bob, viaSSO),
		ev(tb, 8, tok(1), events.TokenScoped{Projects: []string{"beta"}, PreviousProjects: []string{"alpha", "beta"}, Cause: "project-deleted:alpha"}, events.System, events.Via{CredentialType: "internal"}),
		revoked,
		raw(10, events.KindProject, "alpha", "project.deleted", `{}`, ada, viaPAT),
		ev(tb, 11, tok(2), events.TokenExpiryChanged{New: ptr(at(100))}, ci, viaSA),
		raw(12, "checkpoint", "c1", "checkpoint.sealed", `{"root":"ab12"}`, events.System, events.Via{}),
		raw(13, events.KindToken, tok(2), "token.renamed", `{"name":"future"}`, ci, viaSA),
		ev(tb, 14, tok(2), events.TokenExpired{ExpiresAt: at(100)}, events.System, events.Via{CredentialType: "internal"}),
	}
}

func ptr[T any](v T) *T { return &v }

func newLog(tb testing.TB, evs ...events.Envelope) *auditlog.Log {
	tb.Helper()
	l := auditlog.New()
	for _, e := range evs {
		if err := l.Apply(e); err != nil {
			tb.Fatalf("apply seq %d: %v", e.Sequence, err)
		}
	}
	return l
}

func seqs(es []auditlog.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// Ensure every event is recorded with its attribution and raw payload,
// whether or not this build knows its type.
func TestApply_records_every_event_with_attribution(t *testing.T) {
	t.Parallel()
	evs := fixture(t)
	l := newLog(t, evs...)
	got, next := l.Query(auditlog.Query{})
	if next != 0 || len(got) != len(evs) {
		t.Fatalf("Query{} = %d entries, next %d; want %d, 0", len(got), next, len(evs))
	}
	for i, env := range evs {
		e := got[i]
		want := auditlog.Entry{
			Seq: env.Sequence, Time: env.Time, EventID: env.ID, Type: env.Type, Kind: env.AggregateKind,
			AggregateID: env.AggregateID, Actor: env.Actor, Via: env.Via, Reason: env.Reason, Data: env.Data,
			Projects: e.Projects, Environment: e.Environment, TokenType: e.TokenType, // checked below
		}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("seq %d:\n got %+v\nwant %+v", env.Sequence, e, want)
		}
	}
	if e := got[8]; e.Reason != "leaked in a CI log" || e.Actor != bob || e.Via != viaSSO {
		t.Errorf("revocation lost its attribution: %+v", e)
	}
}

// Ensure token events carry their token's projects, environment and type,
// and project and environment events name themselves.
func TestApply_annotates_events(t *testing.T) {
	t.Parallel()
	l := newLog(t, fixture(t)...)
	type note struct {
		projects  []string
		env, typ  string
		aggregate string
	}
	cases := []struct {
		name string
		seq  uint64
		want note
	}{
		{"project_event_touches_its_project", 1, note{projects: []string{"alpha"}}},
		{"environment_event_names_its_environment", 3, note{env: "production"}},
		{"created_carries_its_scope", 4, note{[]string{"alpha", "beta"}, "production", events.TokenClient, tok(1)}},
		{"all_projects_token_is_star", 6, note{[]string{auditlog.AllProjects}, "production", events.TokenClient, tok(3)}},
		{"pat_carries_its_type", 7, note{nil, "development", events.TokenPersonal, tok(4)}},
		{"scoped_touches_old_and_new_projects", 8, note{[]string{"alpha", "beta"}, "production", events.TokenClient, tok(1)}},
		{"later_event_carries_the_new_scope", 9, note{[]string{"beta"}, "production", events.TokenClient, tok(1)}},
		{"expiry_change_carries_over", 11, note{[]string{"beta"}, "development", events.TokenClient, tok(2)}},
		{"unknown_event_kind_has_no_annotation", 12, note{}},
		{"unknown_token_event_type_carries_over", 13, note{[]string{"beta"}, "development", events.TokenClient, tok(2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es, _ := l.Query(auditlog.Query{After: tc.seq - 1, Limit: 1})
			if len(es) != 1 {
				t.Fatalf("no entry %d", tc.seq)
			}
			e := es[0]
			if tc.want.aggregate != "" && e.AggregateID != tc.want.aggregate {
				t.Errorf("entry %d is about %s, want %s", tc.seq, e.AggregateID, tc.want.aggregate)
			}
			if !slices.Equal(e.Projects, tc.want.projects) || e.Environment != tc.want.env || e.TokenType != tc.want.typ {
				t.Errorf("entry %d: projects %v env %q type %q; want %v %q %q", tc.seq, e.Projects, e.Environment, e.TokenType,
					tc.want.projects, tc.want.env, tc.want.typ)
			}
		})
	}
}

// Ensure Apply is idempotent by sequence and refuses unsequenced events.
func TestApply_is_idempotent_by_sequence(t *testing.T) {
	t.Parallel()
	evs := fixture(t)
	l := newLog(t, evs...)
	for _, e := range []events.Envelope{evs[len(evs)-1], evs[0], evs[5]} {
		if err := l.Apply(e); err != nil {
			t.Errorf("re-apply seq %d: %v", e.Sequence, err)
		}
	}
	if l.Len() != len(evs) || l.LastApplied() != 14 {
		t.Errorf("Len = %d, LastApplied = %d; want %d, 14", l.Len(), l.LastApplied(), len(evs))
	}
	unsequenced := evs[0]
	unsequenced.Sequence = 0
	if err := auditlog.New().Apply(unsequenced); err == nil {
		t.Error("Apply of an event without a sequence succeeded")
	}
}

// Ensure the log keeps its own copy of the payload.
func TestApply_copies_the_payload(t *testing.T) {
	t.Parallel()
	env := raw(1, events.KindUser, "42", "user.created", `{"name":"Ada"}`, ada, viaPAT)
	l := newLog(t, env)
	copy(env.Data, `{"name":"Eve"}`)
	if got := string(l.History("42")[0].Data); got != `{"name":"Ada"}` {
		t.Errorf("Data = %s after the caller reused its buffer", got)
	}
}

// Ensure each filter, alone and combined, selects the right entries.
func TestQuery_filters(t *testing.T) {
	t.Parallel()
	l := newLog(t, fixture(t)...)
	cases := []struct {
		name string
		q    auditlog.Query
		want []uint64
	}{
		{"everything", auditlog.Query{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}},
		{"by_aggregate", auditlog.Query{AggregateID: tok(1)}, []uint64{4, 8, 9}},
		{"by_aggregate_and_kind", auditlog.Query{AggregateID: "alpha", Kind: events.KindProject}, []uint64{1, 10}},
		{"by_actor", auditlog.Query{ActorID: "43"}, []uint64{7, 9}},
		{"by_system_actor", auditlog.Query{ActorID: "system"}, []uint64{8, 12, 14}},
		{"by_credential", auditlog.Query{CredentialID: "sat-1"}, []uint64{5, 11, 13}},
		{"by_project", auditlog.Query{Project: "alpha"}, []uint64{1, 4, 8, 10}},
		{"by_project_beta", auditlog.Query{Project: "beta"}, []uint64{2, 4, 5, 8, 9, 11, 13, 14}},
		{"all_projects_tokens_by_star", auditlog.Query{Project: auditlog.AllProjects}, []uint64{6}},
		{"by_environment", auditlog.Query{Environment: "production"}, []uint64{3, 4, 6, 8, 9}},
		{"by_exact_type", auditlog.Query{Type: events.TypeTokenCreated}, []uint64{4, 5, 6, 7}},
		{"by_type_prefix_dot", auditlog.Query{Type: "project."}, []uint64{1, 2, 10}},
		{"by_type_prefix_star", auditlog.Query{Type: "token.*"}, []uint64{4, 5, 6, 7, 8, 9, 11, 13, 14}},
		{"exact_type_is_not_a_prefix", auditlog.Query{Type: "token"}, nil},
		{"unknown_type_recorded", auditlog.Query{Type: "checkpoint.sealed"}, []uint64{12}},
		{"since_inclusive", auditlog.Query{Since: at(12)}, []uint64{12, 13, 14}},
		{"until_exclusive", auditlog.Query{Until: at(3)}, []uint64{1, 2}},
		{"time_window", auditlog.Query{Since: at(5), Until: at(7)}, []uint64{5, 6}},
		{"project_and_actor", auditlog.Query{Project: "beta", ActorID: "sa-1"}, []uint64{5, 11, 13}},
		{"project_type_and_window", auditlog.Query{Project: "beta", Type: "token.", Since: at(9)}, []uint64{9, 11, 13, 14}},
		{"after_cursor", auditlog.Query{Project: "alpha", After: 4}, []uint64{8, 10}},
		{"no_match", auditlog.Query{ActorID: "nobody"}, nil},
		{"contradicting_filters", auditlog.Query{AggregateID: tok(1), ActorID: "sa-1"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next := l.Query(tc.q)
			if !slices.Equal(seqs(got), tc.want) || next != 0 {
				t.Errorf("Query = %v (next %d), want %v (next 0)", seqs(got), next, tc.want)
			}
		})
	}
}

// Ensure paging with the cursor visits every matching entry exactly once,
// in order, and the last page says it is the last.
func TestQuery_pagination(t *testing.T) {
	t.Parallel()
	var evs []events.Envelope
	actors := []events.Actor{ada, bob, ci}
	for i := 1; i <= 2500; i++ {
		a := actors[i%3]
		evs = append(evs, raw(uint64(i), events.KindUser, fmt.Sprint(i%7), "user.touched", `{}`, a, viaPAT))
	}
	l := newLog(t, evs...)
	// brute is the answer by definition, from the events themselves.
	brute := func(q auditlog.Query) []uint64 {
		var out []uint64
		for _, e := range evs {
			if (q.ActorID == "" || e.Actor.ID == q.ActorID) && (q.AggregateID == "" || e.AggregateID == q.AggregateID) &&
				(q.Since.IsZero() || !e.Time.Before(q.Since)) {
				out = append(out, e.Sequence)
			}
		}
		return out
	}
	cases := []struct {
		name     string
		q        auditlog.Query
		pageSize int // what Limit amounts to
	}{
		{"default_page_size", auditlog.Query{}, auditlog.DefaultLimit},
		{"page_size_clamped_to_max", auditlog.Query{Limit: 5000}, auditlog.MaxLimit},
		{"page_divides_evenly", auditlog.Query{Limit: 500}, 500},
		{"filtered", auditlog.Query{ActorID: "43", Limit: 100}, 100},
		{"two_filters", auditlog.Query{ActorID: "43", AggregateID: "3", Limit: 7}, 7},
		{"single_entry_pages", auditlog.Query{AggregateID: "3", Since: at(2400), Limit: 1}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := brute(tc.q)
			q := tc.q
			var got []uint64
			pages := 0
			for {
				page, next := l.Query(q)
				pages++
				if len(page) > tc.pageSize {
					t.Fatalf("page of %d entries, want at most %d", len(page), tc.pageSize)
				}
				got = append(got, seqs(page)...)
				if next == 0 {
					break
				}
				if next != page[len(page)-1].Seq {
					t.Fatalf("next = %d, want the last seq of the page %d", next, page[len(page)-1].Seq)
				}
				q.After = next
				if pages > len(evs) {
					t.Fatal("paging does not end")
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("paged answer has %d entries, want %d (gaps, duplicates or order)", len(got), len(want))
			}
			if wantPages := max(1, (len(want)+tc.pageSize-1)/tc.pageSize); pages != wantPages {
				t.Errorf("%d pages, want %d: the last page must say it is the last", pages, wantPages)
			}
		})
	}
}

// Ensure History lists one aggregate's events in order.
func TestHistory(t *testing.T) {
	t.Parallel()
	l := newLog(t, fixture(t)...)
	cases := []struct {
		name string
		id   string
		want []uint64
	}{
		{"token_lifecycle", tok(1), []uint64{4, 8, 9}},
		{"includes_unknown_types", tok(2), []uint64{5, 11, 13, 14}},
		{"project", "alpha", []uint64{1, 10}},
		{"unknown_aggregate", "nope", []uint64{}},
	}
	for _, tc := range cases {
		if got := seqs(l.History(tc.id)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: History = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Ensure paging while events are applied sees every entry once (run with
// -race).
func TestQuery_concurrent_with_apply(t *testing.T) {
	t.Parallel()
	l := auditlog.New()
	const n = 3000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= n; i++ {
			if err := l.Apply(raw(uint64(i), events.KindUser, "u", "user.touched", `{}`, ada, viaPAT)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var got []uint64
	var after uint64
	for after < n {
		page, next := l.Query(auditlog.Query{ActorID: "42", After: after, Limit: 50})
		got = append(got, seqs(page)...)
		if len(page) > 0 {
			after = page[len(page)-1].Seq
		}
		_ = next
	}
	wg.Wait()
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("entry %d has seq %d: a gap or duplicate", i, s)
		}
	}
}

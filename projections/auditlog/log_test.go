package auditlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
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

// stream is a real LEDGER stream on an embedded NATS server, and a store
// reading it.
type stream struct {
	tb    testing.TB
	js    jetstream.JetStream
	store *jsstore.Store
}

func newStream(tb testing.TB) *stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc := natstest.Connect(tb, natstest.RunServer(tb))
	st, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return &stream{tb: tb, js: js, store: st}
}

// publish stores the envelopes; each must land at its Sequence.
func (s *stream) publish(evs ...events.Envelope) {
	s.tb.Helper()
	acks := make([]jetstream.PubAckFuture, len(evs))
	for i, e := range evs {
		data, err := events.Marshal(&e)
		if err != nil {
			s.tb.Fatal(err)
		}
		if acks[i], err = s.js.PublishAsync(e.Subject(), data); err != nil {
			s.tb.Fatal(err)
		}
	}
	for i, f := range acks {
		select {
		case ack := <-f.Ok():
			if ack.Sequence != evs[i].Sequence {
				s.tb.Fatalf("event %s stored at %d, want %d", evs[i].ID, ack.Sequence, evs[i].Sequence)
			}
		case err := <-f.Err():
			s.tb.Fatal(err)
		case <-time.After(30 * time.Second):
			s.tb.Fatal("no publish ack")
		}
	}
}

// newLog stores evs in a fresh stream and applies them to a log reading it.
func newLog(tb testing.TB, evs ...events.Envelope) *auditlog.Log {
	tb.Helper()
	s := newStream(tb)
	s.publish(evs...)
	l := auditlog.New(s.store)
	for _, e := range evs {
		if err := l.Apply(e); err != nil {
			tb.Fatalf("apply seq %d: %v", e.Sequence, err)
		}
	}
	return l
}

// page is Log.Page that fails the test on an error.
func page(tb testing.TB, l *auditlog.Log, q auditlog.Query) auditlog.Page {
	tb.Helper()
	p, err := l.Page(context.Background(), q)
	if err != nil {
		tb.Fatalf("Page(%+v): %v", q, err)
	}
	return p
}

func seqs(es []auditlog.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// Ensure every event is recorded with its attribution and raw payload,
// whether or not this build knows its type: the payload is read back from
// the stream, the log keeps none.
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
		want := auditlog.EntryOf(env)
		if !e.Time.Equal(want.Time) {
			t.Errorf("seq %d: time %v, want %v", env.Sequence, e.Time, want.Time)
		}
		want.Time = e.Time
		if !reflect.DeepEqual(e, want) {
			t.Errorf("seq %d:\n got %+v\nwant %+v", env.Sequence, e, want)
		}
	}
	if e := got[8]; e.Reason != "leaked in a CI log" || e.Actor != bob || e.Via != viaSSO {
		t.Errorf("revocation lost its attribution: %+v", e)
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
	beyond := evs[0]
	beyond.Sequence = auditlog.MaxSequence + 1
	if err := auditlog.New(nil).Apply(beyond); err == nil {
		t.Error("Apply of an event beyond MaxSequence succeeded")
	}
	if l.Len() != len(evs) || l.LastApplied() != 14 {
		t.Errorf("Len = %d, LastApplied = %d; want %d, 14", l.Len(), l.LastApplied(), len(evs))
	}
	unsequenced := evs[0]
	unsequenced.Sequence = 0
	if err := auditlog.New(nil).Apply(unsequenced); err == nil {
		t.Error("Apply of an event without a sequence succeeded")
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
		{"since_beyond_unix_nanoseconds", auditlog.Query{Since: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		{"until_before_unix_nanoseconds", auditlog.Query{Until: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		{"until_beyond_unix_nanoseconds", auditlog.Query{Until: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), FromSeq: 14}, []uint64{14}},
		{"project_and_actor", auditlog.Query{Project: "beta", ActorID: "sa-1"}, []uint64{5, 11, 13}},
		{"project_type_and_window", auditlog.Query{Project: "beta", Type: "token.", Since: at(9)}, []uint64{9, 11, 13, 14}},
		{"after_cursor", auditlog.Query{Project: "alpha", After: 4}, []uint64{8, 10}},
		{"no_match", auditlog.Query{ActorID: "nobody"}, nil},
		{"contradicting_filters", auditlog.Query{AggregateID: tok(1), ActorID: "sa-1"}, nil},
		// What the log remembers of a token annotates its later events.
		{"scoped_touches_old_and_new_projects", auditlog.Query{Project: "alpha", Type: events.TypeTokenScoped}, []uint64{8}},
		{"later_event_carries_the_new_scope", auditlog.Query{Project: "alpha", After: 8, Type: "token."}, nil},
		{"unknown_token_type_carries_the_scope", auditlog.Query{Project: "beta", Environment: "development", Type: "token.renamed"}, []uint64{13}},
		{"aggregate_includes_unknown_types", auditlog.Query{AggregateID: tok(2)}, []uint64{5, 11, 13, 14}},
		{"token_aggregate_of_kind_token", auditlog.Query{AggregateID: tok(2), Kind: events.KindToken, Type: "token.expired"}, []uint64{14}},
		{"unknown_aggregate", auditlog.Query{AggregateID: "nope"}, nil},
		{"aggregate_that_is_no_subject_token", auditlog.Query{AggregateID: "a.>"}, nil},
		{"by_kind", auditlog.Query{Kind: events.KindProject}, []uint64{1, 2, 10}},
		{"by_actor_name", auditlog.Query{Actors: []string{"Bob"}}, []uint64{7, 9}},
		{"actors_any_of", auditlog.Query{Actors: []string{"ci", "43"}}, []uint64{5, 7, 9, 11, 13}},
		{"types_any_of", auditlog.Query{Types: []string{"project.created", "token.expired", "token.scoped"}}, []uint64{1, 2, 8, 14}},
		{"sequence_window", auditlog.Query{FromSeq: 4, ToSeq: 6}, []uint64{4, 5, 6}},
		{"sequence_window_and_cursor", auditlog.Query{FromSeq: 4, ToSeq: 9, After: 7}, []uint64{8, 9}},
		{"descending", auditlog.Query{Type: "project.", Desc: true}, []uint64{10, 2, 1}},
		{"descending_before", auditlog.Query{Project: "beta", Desc: true, Before: 9}, []uint64{8, 5, 4, 2}},
		{"descending_aggregate", auditlog.Query{AggregateID: tok(1), Desc: true}, []uint64{9, 8, 4}},
		{"descending_aggregate_before", auditlog.Query{AggregateID: tok(1), Desc: true, Before: 9}, []uint64{8, 4}},
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

// Ensure paging while events are appended and applied sees every entry
// once, in both orders (run with -race): ascending pages reach every event,
// descending pages cover exactly what the first page saw.
func TestPagingNeitherSkipsNorRepeatsWhileEventsAreApplied(t *testing.T) {
	t.Parallel()
	const n = 3000
	evs := make([]events.Envelope, n)
	for i := range evs {
		evs[i] = raw(uint64(i+1), events.KindUser, "u", "user.touched", `{}`, ada, viaPAT)
	}
	s := newStream(t)
	s.publish(evs...)
	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprint("desc=", desc), func(t *testing.T) {
			l := auditlog.New(s.store)
			for _, e := range evs[:n/3] {
				if err := l.Apply(e); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, e := range evs[n/3:] {
					if err := l.Apply(e); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var got []uint64
			q := auditlog.Query{ActorID: "42", Limit: 50, Desc: desc}
			for pages := 0; pages < 10*n; pages++ {
				p := page(t, l, q)
				got = append(got, seqs(p.Entries)...)
				if desc {
					if p.Next == 0 {
						break
					}
					q.Before = p.Next
				} else {
					if len(p.Entries) > 0 {
						q.After = p.Entries[len(p.Entries)-1].Seq
					}
					if q.After == n {
						break
					}
				}
			}
			wg.Wait()
			if desc {
				slices.Reverse(got)
			}
			if len(got) == 0 {
				t.Fatal("no entries")
			}
			for i, s := range got {
				if s != uint64(i+1) {
					t.Fatalf("entry %d has seq %d: a gap or duplicate", i, s)
				}
			}
			if !desc && len(got) != n {
				t.Fatalf("ascending pages saw %d of %d", len(got), n)
			}
		})
	}
}

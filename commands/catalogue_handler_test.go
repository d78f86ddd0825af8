package commands_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// seedCatalogue creates project default, environments development and
// production (as EnsureDefaults does at start-up) and environment staging.
func (l *ledger) seedCatalogue() {
	l.t.Helper()
	if _, err := l.h.EnsureDefaults(l.ctx, commands.Meta{Actor: events.System}); err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: "staging", Type: "preproduction"}); err != nil {
		l.t.Fatal(err)
	}
}

// Ensure the catalogue changes append exactly one event each, attributed to
// the command, chained to the aggregate; and that the same command id again
// appends nothing and reports the first sequence.
func TestHandler_CatalogueChangesAppendOneAttributedEvent(t *testing.T) {
	l := newLedger(t)
	l.seedCatalogue()
	steps := []struct {
		name     string
		kind, id string
		wantType string
		run      func(m commands.Meta) (commands.Result, error)
		check    func(t *testing.T, p events.Payload)
	}{
		{"rename_project", events.KindProject, commands.DefaultProject, events.TypeProjectUpdated, func(m commands.Meta) (commands.Result, error) {
			return l.h.UpdateProject(l.ctx, m, commands.UpdateProject{ProjectID: commands.DefaultProject, Name: strp("Main")})
		}, func(t *testing.T, p events.Payload) {
			if got := p.(events.ProjectUpdated); got != (events.ProjectUpdated{Name: "Main", Description: "Default project"}) {
				t.Errorf("payload %+v", got)
			}
		}},
		{"change_environment_type", events.KindEnvironment, "staging", events.TypeEnvironmentUpdated, func(m commands.Meta) (commands.Result, error) {
			return l.h.UpdateEnvironment(l.ctx, m, commands.UpdateEnvironment{Name: "staging", Type: "test"})
		}, func(t *testing.T, p events.Payload) {
			if got := p.(events.EnvironmentUpdated); got.Type != "test" {
				t.Errorf("payload %+v", got)
			}
		}},
		{"delete_environment_without_tokens", events.KindEnvironment, "staging", events.TypeEnvironmentDeleted, func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteEnvironment(l.ctx, m, commands.DeleteEnvironment{Name: "staging", Others: []string{"development", "production"}})
		}, nil},
	}
	for i, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			l.t = t
			m := meta(fmt.Sprintf("cat-%02d", i))
			m.Reason = "ticket-" + st.name
			before := l.lastSeq()
			r, err := st.run(m)
			if err != nil {
				t.Fatalf("command: %v", err)
			}
			if r.Replayed || r.Seq != before+1 || l.lastSeq() != r.Seq {
				t.Fatalf("result %+v, stream %d → %d: want exactly one new event", r, before, l.lastSeq())
			}
			evs := l.load(st.kind, st.id)
			last := evs[len(evs)-1]
			if last.Sequence != r.Seq || last.Type != st.wantType {
				t.Fatalf("last event %s at %d, want %s at %d", last.Type, last.Sequence, st.wantType, r.Seq)
			}
			if last.Actor != m.Actor || last.Via != m.Via || last.CommandID != m.CommandID || last.Reason != m.Reason || !last.Time.Equal(now) {
				t.Errorf("attribution = %+v %+v %q %q %v", last.Actor, last.Via, last.CommandID, last.Reason, last.Time)
			}
			if st.check != nil {
				p, err := last.Payload()
				if err != nil {
					t.Fatal(err)
				}
				st.check(t, p)
			}
			again, err := st.run(m)
			if err != nil || !again.Replayed || again.Seq != r.Seq || l.lastSeq() != r.Seq {
				t.Fatalf("replay: %+v %v, stream at %d; want replayed at %d and nothing appended", again, err, l.lastSeq(), r.Seq)
			}
		})
		if !ok {
			t.FailNow() // later steps build on earlier ones
		}
	}
}

// Ensure environment deletion revokes its tokens in one batch (consecutive
// sequences, reason environment-deleted, attributed to the command) and
// leaves other environments' tokens, admin tokens, personal tokens and
// revoked tokens alone; the name is not reused afterwards.
func TestHandler_DeleteEnvironmentRevokesItsTokensInOneBatch(t *testing.T) {
	l := newLedger(t)
	l.seedCatalogue()
	if _, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-alice", Username: "alice", RootRole: events.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	exp := now.Add(24 * time.Hour)
	staging := func(typ string, projects ...string) string {
		return l.token(commands.CreateToken{Type: typ, Environment: "staging", Projects: projects})
	}
	client := staging(events.TokenClient, "default")
	backend := staging(events.TokenBackend, "*")
	frontend := staging(events.TokenFrontend, "default")
	gone := staging(events.TokenBackend, "default")
	l.revoke(gone)
	production := l.token(commands.CreateToken{Type: events.TokenBackend, Environment: "production", Projects: []string{"default"}})
	admin := l.token(commands.CreateToken{Type: events.TokenAdmin, Environment: commands.AllEnvironments, Projects: []string{"*"}, Path: events.PathBootstrap})
	pat := l.token(commands.CreateToken{Type: events.TokenPersonal, Owner: &events.Owner{Kind: events.ActorUser, ID: "u-alice"}, ExpiresAt: &exp, Path: events.PathPAT})
	untouched := map[string]int{gone: 2, production: 1, admin: 1, pat: 1}

	before := l.lastSeq()
	m := meta("delete-staging")
	c := commands.DeleteEnvironment{Name: "staging", Others: []string{"development", "production", "staging"},
		Tokens: []string{client, production, backend, admin, pat, gone, frontend, client, "no-such-token", "bad.*"}}
	r, err := l.h.DeleteEnvironment(l.ctx, m, c)
	if err != nil {
		t.Fatal(err)
	}
	got := l.assertCascade(m, r, before, []batchEvent{
		{events.TypeEnvironmentDeleted, "staging"},
		{events.TypeTokenRevoked, client},
		{events.TypeTokenRevoked, backend},
		{events.TypeTokenRevoked, frontend},
	}, untouched)
	for i, e := range got[1:] {
		if p, err := e.Payload(); err != nil || p != (events.TokenRevoked{Reason: events.ReasonEnvironmentDeleted}) {
			t.Errorf("event %d payload %+v %v, want reason environment-deleted", i+1, p, err)
		}
	}
	for _, id := range []string{client, backend, frontend} {
		l.load(events.KindToken, id) // chain check
	}
	l.load(events.KindEnvironment, "staging")

	again, err := l.h.DeleteEnvironment(l.ctx, m, c)
	if err != nil || !again.Replayed || again.Seq != r.Seq || l.lastSeq() != r.Seq {
		t.Fatalf("replay: %+v %v, stream at %d; want replayed at %d", again, err, l.lastSeq(), r.Seq)
	}
	l.assertRefused(t, []refusal{
		{"second_delete_is_not_found", func() error {
			_, err := l.h.DeleteEnvironment(l.ctx, meta(""), commands.DeleteEnvironment{Name: "staging", Others: []string{"production"}})
			return err
		}, commands.ErrNotFound},
		{"update_of_deleted_environment_is_not_found", func() error {
			_, err := l.h.UpdateEnvironment(l.ctx, meta(""), commands.UpdateEnvironment{Name: "staging", Type: "test"})
			return err
		}, commands.ErrNotFound},
		{"deleted_name_is_not_reused", func() error {
			_, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: "staging"})
			return err
		}, commands.ErrExists},
	})
}

// Ensure the last live environment is never deleted, whatever the caller
// claims about the others: they are re-read from the stream.
func TestHandler_LastEnvironmentIsNotDeleted(t *testing.T) {
	l := newLedger(t)
	for _, name := range []string{"solo", "gone"} {
		if _, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	tok := l.token(commands.CreateToken{Type: events.TokenBackend, Environment: "solo", Projects: []string{"*"}})
	if _, err := l.h.DeleteEnvironment(l.ctx, meta(""), commands.DeleteEnvironment{Name: "gone", Others: []string{"solo"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		others []string
	}{
		{"no_others_named", nil},
		{"only_itself_named", []string{"solo"}},
		{"deleted_environment_named_as_other", []string{"gone"}},
		{"unknown_and_malformed_names", []string{"never-created", "*", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.t = t
			before := l.lastSeq()
			_, err := l.h.DeleteEnvironment(l.ctx, meta(""), commands.DeleteEnvironment{Name: "solo", Others: tt.others, Tokens: []string{tok}})
			if !errors.Is(err, commands.ErrInvalidOperation) {
				t.Fatalf("got %v, want ErrInvalidOperation", err)
			}
			if l.lastSeq() != before {
				t.Fatalf("stream moved from %d to %d", before, l.lastSeq())
			}
		})
	}
	if evs := l.load(events.KindToken, tok); len(evs) != 1 {
		t.Fatalf("the last environment's token has %d events, want 1", len(evs))
	}
}

// Ensure catalogue changes that are refused append nothing and return the
// documented error.
func TestHandler_RefusedCatalogueChangesAppendNothing(t *testing.T) {
	l := newLedger(t)
	l.seedCatalogue()
	if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.h.DeleteProject(l.ctx, meta(""), "old", nil); err != nil {
		t.Fatal(err)
	}
	tests := []refusal{
		{"update_unknown_project_is_not_found", func() error {
			_, err := l.h.UpdateProject(l.ctx, meta(""), commands.UpdateProject{ProjectID: "nope", Name: strp("x")})
			return err
		}, commands.ErrNotFound},
		{"update_deleted_project_is_not_found", func() error {
			_, err := l.h.UpdateProject(l.ctx, meta(""), commands.UpdateProject{ProjectID: "old", Name: strp("x")})
			return err
		}, commands.ErrNotFound},
		{"update_wildcard_project_is_not_found", func() error {
			_, err := l.h.UpdateProject(l.ctx, meta(""), commands.UpdateProject{ProjectID: "*", Name: strp("x")})
			return err
		}, commands.ErrNotFound},
		{"update_project_with_nothing_invalid", func() error {
			_, err := l.h.UpdateProject(l.ctx, meta(""), commands.UpdateProject{ProjectID: commands.DefaultProject})
			return err
		}, nil},
		{"update_project_to_empty_name_invalid", func() error {
			_, err := l.h.UpdateProject(l.ctx, meta(""), commands.UpdateProject{ProjectID: commands.DefaultProject, Name: strp("")})
			return err
		}, nil},
		{"update_unknown_environment_is_not_found", func() error {
			_, err := l.h.UpdateEnvironment(l.ctx, meta(""), commands.UpdateEnvironment{Name: "nope", Type: "test"})
			return err
		}, commands.ErrNotFound},
		{"update_environment_without_type_invalid", func() error {
			_, err := l.h.UpdateEnvironment(l.ctx, meta(""), commands.UpdateEnvironment{Name: "staging"})
			return err
		}, nil},
		{"delete_unknown_environment_is_not_found", func() error {
			_, err := l.h.DeleteEnvironment(l.ctx, meta(""), commands.DeleteEnvironment{Name: "nope", Others: []string{"staging"}})
			return err
		}, commands.ErrNotFound},
		{"delete_all_environments_star_is_not_found", func() error {
			_, err := l.h.DeleteEnvironment(l.ctx, meta(""), commands.DeleteEnvironment{Name: "*", Others: []string{"staging"}})
			return err
		}, commands.ErrNotFound},
	}
	l.assertRefused(t, tests)
}

// Ensure a token or the environment changed between the handler's read and
// its batch append makes the whole environment deletion fail with
// ErrConflict: the environment is not deleted and no token is touched. A
// retry with fresh state goes through.
func TestHandler_EnvironmentDeletionWithStaleStateConflictsAndStoresNothing(t *testing.T) {
	l := newLedger(t)
	hooked := &hookStore{Store: l.store}
	h := newTestHandler(hooked)
	l.seedCatalogue()
	for _, name := range []string{"qa", "perf"} {
		if _, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(2 * time.Hour)
	tokens := map[string][]string{}
	for _, env := range []string{"staging", "qa", "perf"} {
		for range 2 {
			tokens[env] = append(tokens[env], l.token(commands.CreateToken{Type: events.TokenBackend, Environment: env, Projects: []string{"default"}}))
		}
	}
	tests := []struct {
		name       string
		env        string
		staleKind  string
		staleID    string
		change     func() error // the concurrent change, made right after the handler loaded staleKind/staleID
		wantEvents int          // the environment's events after the refused deletion
	}{
		{"a_stale_token_in_the_batch", "staging", events.KindToken, tokens["staging"][1], func() error {
			_, err := l.h.ChangeExpiry(l.ctx, meta(""), commands.ChangeExpiry{TokenID: tokens["staging"][1], ExpiresAt: &later})
			return err
		}, 1},
		{"a_token_revoked_meanwhile", "qa", events.KindToken, tokens["qa"][0], func() error {
			_, err := l.h.RevokeToken(l.ctx, meta(""), commands.RevokeToken{TokenID: tokens["qa"][0], Reason: events.ReasonCompromised})
			return err
		}, 1},
		{"the_environment_changed_meanwhile", "perf", events.KindEnvironment, "perf", func() error {
			_, err := l.h.UpdateEnvironment(l.ctx, meta(""), commands.UpdateEnvironment{Name: "perf", Type: "test"})
			return err
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.t = t
			c := commands.DeleteEnvironment{Name: tt.env, Others: []string{"development", "production"}, Tokens: tokens[tt.env]}
			err := hooked.raceAfterLoad(t, tt.staleKind, tt.staleID, tt.change, func() error {
				_, err := h.DeleteEnvironment(l.ctx, meta("del-"+tt.env), c)
				return err
			})
			if !errors.Is(err, commands.ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", err)
			}
			before := l.lastSeq() // after the concurrent change
			last := l.between(before, before)
			if len(last) != 1 || last[0].AggregateID != tt.staleID || last[0].CommandID == "del-"+tt.env {
				t.Fatalf("newest event is not the concurrent change: %+v", last)
			}
			if got := len(l.load(events.KindEnvironment, tt.env)); got != tt.wantEvents {
				t.Fatalf("environment %s has %d events, want %d", tt.env, got, tt.wantEvents)
			}
			for _, id := range tokens[tt.env] {
				for _, e := range l.load(events.KindToken, id) {
					if e.CommandID == "del-"+tt.env {
						t.Fatalf("token %s got %s from the refused deletion", id, e.Type)
					}
				}
			}
			// Retried with the same command id and fresh state, the
			// deletion goes through (the refused batch stored nothing to
			// replay) and skips a token revoked meanwhile.
			r, err := h.DeleteEnvironment(l.ctx, meta("del-"+tt.env), c)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			got := l.between(before+1, r.Seq)
			if r.Replayed || r.Seq != l.lastSeq() || len(got) == 0 || got[0].Type != events.TypeEnvironmentDeleted {
				t.Fatalf("retry: %+v, events %+v", r, got)
			}
			for _, e := range got[1:] {
				if p, _ := e.Payload(); p != (events.TokenRevoked{Reason: events.ReasonEnvironmentDeleted}) {
					t.Errorf("retry event %s of %s: %+v", e.Type, e.AggregateID, p)
				}
			}
		})
	}
}

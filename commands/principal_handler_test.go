package commands_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

const handlerTimeout = 30 * time.Second

// ledger is one test's real store on an embedded JetStream server and a
// handler appending to it.
type ledger struct {
	t     *testing.T
	ctx   context.Context
	store *jsstore.Store
	h     *commands.Handler

	tokens int // tokens created by token(), for unique names
}

func newLedger(t *testing.T) *ledger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), handlerTimeout)
	t.Cleanup(cancel)
	nc := natstest.Connect(t, natstest.RunServer(t))
	st, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		t.Fatalf("jsstore.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &ledger{t: t, ctx: ctx, store: st, h: newTestHandler(st)}
}

func newTestHandler(st commands.EventStore) *commands.Handler {
	return commands.NewHandler(st, commands.Config{Now: func() time.Time { return now }})
}

// meta is an attributed command: alice, through her PAT, with a fresh
// command id per call of meta.
func meta(cmd string) commands.Meta {
	return commands.Meta{
		CommandID: cmd,
		Actor:     events.Actor{Kind: events.ActorUser, ID: "u-admin", Name: "admin@example.com"},
		Via:       events.Via{CredentialID: "pat-1", CredentialType: events.TokenPersonal, RemoteAddr: "127.0.0.1:5000", UserAgent: "test", RequestID: "req-" + cmd},
	}
}

func (l *ledger) lastSeq() uint64 {
	l.t.Helper()
	seq, err := l.store.LastSequence(l.ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	return seq
}

// load returns an aggregate's events after checking their hash chain.
func (l *ledger) load(kind, id string) []events.Envelope {
	l.t.Helper()
	evs, err := l.store.Load(l.ctx, kind, id)
	if err != nil {
		l.t.Fatalf("load %s %s: %v", kind, id, err)
	}
	if err := events.VerifyChain(evs); err != nil {
		l.t.Fatalf("chain of %s %s: %v", kind, id, err)
	}
	return evs
}

// between returns the stored events with from ≤ sequence ≤ to.
func (l *ledger) between(from, to uint64) []events.Envelope {
	l.t.Helper()
	var out []events.Envelope
	if err := l.store.Replay(l.ctx, from, to, func(e events.Envelope) error { out = append(out, e); return nil }); err != nil {
		l.t.Fatal(err)
	}
	return out
}

// token creates a token and returns its id.
func (l *ledger) token(c commands.CreateToken) string {
	l.t.Helper()
	if c.Path == "" {
		c.Path = events.PathAdminAPI
	}
	if c.Name == "" {
		l.tokens++
		c.Name = fmt.Sprintf("tok-%d", l.tokens) // descriptions of one owner's PATs are unique
	}
	if c.Environment == "" && !commands.IsAccountToken(c.Type) {
		c.Environment = "development"
	}
	out, err := l.h.CreateToken(l.ctx, meta(""), c)
	if err != nil {
		l.t.Fatalf("create token: %v", err)
	}
	return out.TokenID
}

func (l *ledger) revoke(id string) {
	l.t.Helper()
	if _, err := l.h.RevokeToken(l.ctx, meta(""), commands.RevokeToken{TokenID: id, Reason: events.ReasonCompromised}); err != nil {
		l.t.Fatal(err)
	}
}

// Ensure every principal and catalogue command appends exactly one event,
// attributed to the command's actor, credential and id, chained to the
// aggregate's previous event; and that the same command id again appends
// nothing and reports the first sequence.
func TestHandler_EachCommandAppendsOneAttributedEvent(t *testing.T) {
	l := newLedger(t)
	var rootRole, projectRole, user, sa string
	alice := func() events.Owner { return events.Owner{Kind: events.ActorUser, ID: user} }
	steps := []struct {
		name     string
		kind     string
		id       func() string
		wantType string
		run      func(m commands.Meta) (commands.Result, error)
	}{
		{"create_root_role", events.KindRole, func() string { return rootRole }, events.TypeRoleCreated, func(m commands.Meta) (commands.Result, error) {
			id, r, err := l.h.CreateRole(l.ctx, m, commands.CreateRole{RoleID: "backend-admin", Name: "Backend token admin", Type: events.RoleTypeRoot,
				Permissions: []string{events.PermReadClientToken, events.PermCreateClientToken}})
			rootRole = id
			return r, err
		}},
		{"create_project_role", events.KindRole, func() string { return projectRole }, events.TypeRoleCreated, func(m commands.Meta) (commands.Result, error) {
			id, r, err := l.h.CreateRole(l.ctx, m, commands.CreateRole{RoleID: "token-reader", Name: "Token reader", Type: events.RoleTypeProject,
				Permissions: []string{events.PermReadProjectToken}})
			projectRole = id
			return r, err
		}},
		{"create_user_with_custom_root_role", events.KindUser, func() string { return user }, events.TypeUserCreated, func(m commands.Meta) (commands.Result, error) {
			id, r, err := l.h.CreateUser(l.ctx, m, commands.CreateUser{UserID: "u-alice", Email: "alice@example.com", RootRole: rootRole})
			user = id
			return r, err
		}},
		{"change_user_role", events.KindUser, func() string { return user }, events.TypeUserRoleChanged, func(m commands.Meta) (commands.Result, error) {
			return l.h.ChangeUserRole(l.ctx, m, commands.ChangeUserRole{UserID: user, RootRole: events.RoleEditor})
		}},
		{"create_service_account", events.KindServiceAccount, func() string { return sa }, events.TypeServiceAccountCreated, func(m commands.Meta) (commands.Result, error) {
			id, r, err := l.h.CreateServiceAccount(l.ctx, m, commands.CreateServiceAccount{ServiceAccountID: "sa-ci", Name: "CI", Username: "ci", RootRole: events.RoleViewer})
			sa = id
			return r, err
		}},
		{"update_service_account", events.KindServiceAccount, func() string { return sa }, events.TypeServiceAccountUpdated, func(m commands.Meta) (commands.Result, error) {
			return l.h.UpdateServiceAccount(l.ctx, m, commands.UpdateServiceAccount{ServiceAccountID: sa, RootRole: rootRole})
		}},
		{"create_project", events.KindProject, func() string { return "checkout" }, events.TypeProjectCreated, func(m commands.Meta) (commands.Result, error) {
			return l.h.CreateProject(l.ctx, m, commands.CreateProject{ProjectID: "checkout"})
		}},
		{"create_environment", events.KindEnvironment, func() string { return "staging" }, events.TypeEnvironmentCreated, func(m commands.Meta) (commands.Result, error) {
			return l.h.CreateEnvironment(l.ctx, m, commands.CreateEnvironment{Name: "staging", Type: "preproduction"})
		}},
		{"add_project_member_with_custom_role", events.KindProject, func() string { return "checkout" }, events.TypeProjectMemberAdded, func(m commands.Meta) (commands.Result, error) {
			return l.h.AddProjectMember(l.ctx, m, commands.AddProjectMember{ProjectID: "checkout", Member: alice(), Role: projectRole})
		}},
		{"remove_project_member", events.KindProject, func() string { return "checkout" }, events.TypeProjectMemberRemoved, func(m commands.Meta) (commands.Result, error) {
			return l.h.RemoveProjectMember(l.ctx, m, commands.RemoveProjectMember{ProjectID: "checkout", Member: alice()})
		}},
		{"update_role", events.KindRole, func() string { return projectRole }, events.TypeRoleUpdated, func(m commands.Meta) (commands.Result, error) {
			return l.h.UpdateRole(l.ctx, m, commands.UpdateRole{RoleID: projectRole, Name: "Token manager",
				Permissions: []string{events.PermReadProjectToken, events.PermCreateProjectToken}})
		}},
		{"delete_role", events.KindRole, func() string { return projectRole }, events.TypeRoleDeleted, func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteRole(l.ctx, m, projectRole)
		}},
		{"delete_user_without_tokens", events.KindUser, func() string { return user }, events.TypeUserDeleted, func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteUser(l.ctx, m, user, nil)
		}},
		{"delete_service_account_without_tokens", events.KindServiceAccount, func() string { return sa }, events.TypeServiceAccountDeleted, func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteServiceAccount(l.ctx, m, sa, nil)
		}},
		{"delete_project_without_tokens", events.KindProject, func() string { return "checkout" }, events.TypeProjectDeleted, func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteProject(l.ctx, m, "checkout", nil)
		}},
	}
	for i, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			l.t = t
			m := meta(fmt.Sprintf("cmd-%02d", i))
			m.Reason = "ticket-" + st.name
			before := l.lastSeq()
			r, err := st.run(m)
			if err != nil {
				t.Fatalf("command: %v", err)
			}
			// One event of the command's aggregate, plus the claims or
			// releases of unique names it makes in the same batch.
			if r.Replayed || r.Seq != l.lastSeq() || len(withoutNames(l.between(before+1, r.Seq))) != 1 {
				t.Fatalf("result %+v, stream %d → %d: want exactly one new event besides name claims", r, before, l.lastSeq())
			}
			evs := l.load(st.kind, st.id())
			last := evs[len(evs)-1]
			if last.Sequence > r.Seq || last.Sequence <= before || last.Type != st.wantType {
				t.Fatalf("last event %s at %d, want %s at %d", last.Type, last.Sequence, st.wantType, r.Seq)
			}
			if last.Actor != m.Actor || last.Via != m.Via || last.CommandID != m.CommandID || last.Reason != m.Reason {
				t.Errorf("attribution = %+v %+v %q %q, want %+v %+v %q %q", last.Actor, last.Via, last.CommandID, last.Reason,
					m.Actor, m.Via, m.CommandID, m.Reason)
			}
			if !last.Time.Equal(now) {
				t.Errorf("time = %v, want the handler clock %v", last.Time, now)
			}

			again, err := st.run(m)
			if err != nil {
				t.Fatalf("replayed command: %v", err)
			}
			if !again.Replayed || again.Seq != r.Seq || l.lastSeq() != r.Seq {
				t.Fatalf("replay: result %+v, stream at %d; want replayed at %d and nothing appended", again, l.lastSeq(), r.Seq)
			}
		})
		if !ok {
			t.FailNow() // later steps build on earlier ones
		}
	}
}

// Ensure creates without an id get a fresh UUIDv7 under which the
// aggregate is stored.
func TestHandler_CreatesGenerateUUIDv7(t *testing.T) {
	l := newLedger(t)
	creates := []struct {
		name string
		kind string
		run  func() (string, commands.Result, error)
	}{
		{"user", events.KindUser, func() (string, commands.Result, error) {
			return l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{Username: "alice", RootRole: events.RoleViewer})
		}},
		{"service_account", events.KindServiceAccount, func() (string, commands.Result, error) {
			return l.h.CreateServiceAccount(l.ctx, meta(""), commands.CreateServiceAccount{Name: "CI", Username: "ci", RootRole: events.RoleViewer})
		}},
		{"role", events.KindRole, func() (string, commands.Result, error) {
			return l.h.CreateRole(l.ctx, meta(""), commands.CreateRole{Name: "R", Type: events.RoleTypeRoot})
		}},
	}
	for _, c := range creates {
		t.Run(c.name, func(t *testing.T) {
			l.t = t
			id, r, err := c.run()
			if err != nil {
				t.Fatal(err)
			}
			if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
				t.Fatalf("id %q is not a UUIDv7 (%v)", id, err)
			}
			evs := l.load(c.kind, id)
			if len(evs) != 1 || evs[0].Sequence > r.Seq || r.Seq != l.lastSeq() {
				t.Fatalf("aggregate %s: %+v, want its created event at %d", id, evs, r.Seq)
			}
		})
	}
}

// Ensure commands that are refused append nothing and return the documented
// error.
func TestHandler_RefusedCommandsAppendNothing(t *testing.T) {
	l := newLedger(t)
	if _, err := l.h.EnsureDefaults(l.ctx, commands.Meta{Actor: events.System}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateUser(l.ctx, meta("seed-user"), commands.CreateUser{UserID: "u-bob", Username: "bob", RootRole: events.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateRole(l.ctx, meta("seed-role"), commands.CreateRole{RoleID: "r-proj", Name: "P", Type: events.RoleTypeProject}); err != nil {
		t.Fatal(err)
	}
	bob := events.Owner{Kind: events.ActorUser, ID: "u-bob"}
	tests := []refusal{
		{"project_id_taken_is_exists", func() error {
			_, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: commands.DefaultProject})
			return err
		}, commands.ErrExists},
		{"environment_name_taken_is_exists", func() error {
			_, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: "production"})
			return err
		}, commands.ErrExists},
		{"user_id_taken_is_exists", func() error {
			_, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-bob", Username: "bob2", RootRole: events.RoleViewer})
			return err
		}, commands.ErrExists},
		{"user_with_unknown_custom_role_invalid", func() error {
			_, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{Username: "carol", RootRole: "r-nope"})
			return err
		}, nil},
		{"user_with_project_role_as_root_role_invalid", func() error {
			_, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{Username: "carol", RootRole: "r-proj"})
			return err
		}, nil},
		{"role_id_with_wildcard_invalid", func() error {
			_, _, err := l.h.CreateRole(l.ctx, meta(""), commands.CreateRole{RoleID: "r.*", Name: "x", Type: events.RoleTypeRoot})
			return err
		}, nil},
		{"role_with_unknown_permission_invalid", func() error {
			_, _, err := l.h.CreateRole(l.ctx, meta(""), commands.CreateRole{Name: "x", Type: events.RoleTypeRoot, Permissions: []string{"FLY"}})
			return err
		}, nil},
		{"change_role_of_wildcard_user_is_not_found", func() error {
			_, err := l.h.ChangeUserRole(l.ctx, meta(""), commands.ChangeUserRole{UserID: "*", RootRole: events.RoleAdmin})
			return err
		}, commands.ErrNotFound},
		{"change_role_of_unknown_user_is_not_found", func() error {
			_, err := l.h.ChangeUserRole(l.ctx, meta(""), commands.ChangeUserRole{UserID: "u-nobody", RootRole: events.RoleAdmin})
			return err
		}, commands.ErrNotFound},
		{"add_unknown_principal_invalid", func() error {
			_, err := l.h.AddProjectMember(l.ctx, meta(""), commands.AddProjectMember{ProjectID: commands.DefaultProject,
				Member: events.Owner{Kind: events.ActorServiceAccount, ID: "u-bob"}, Role: events.RoleMember})
			return err
		}, nil},
		{"add_member_to_unknown_project_is_not_found", func() error {
			_, err := l.h.AddProjectMember(l.ctx, meta(""), commands.AddProjectMember{ProjectID: "nope", Member: bob, Role: events.RoleMember})
			return err
		}, commands.ErrNotFound},
		{"delete_default_project_is_invalid_operation", func() error {
			_, err := l.h.DeleteProject(l.ctx, meta(""), commands.DefaultProject, nil)
			return err
		}, commands.ErrInvalidOperation},
		{"delete_unknown_user_is_not_found", func() error {
			_, err := l.h.DeleteUser(l.ctx, meta(""), "u-nobody", nil)
			return err
		}, commands.ErrNotFound},
		{"delete_predefined_role_is_not_found", func() error {
			_, err := l.h.DeleteRole(l.ctx, meta(""), events.RoleAdmin)
			return err
		}, commands.ErrNotFound},
	}
	l.assertRefused(t, tests)
}

// Ensure deleting a project revokes its single-project tokens and narrows
// its multi-project tokens in one atomic batch (consecutive sequences), and
// leaves all-projects tokens, revoked tokens and other projects' tokens
// alone.
func TestHandler_DeleteProjectCascadesToTokensInOneBatch(t *testing.T) {
	l := newLedger(t)
	for _, p := range []string{"checkout", "billing"} {
		if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: p}); err != nil {
			t.Fatal(err)
		}
	}
	single := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"checkout"}})
	multi := l.token(commands.CreateToken{Type: events.TokenFrontend, Projects: []string{"checkout", "billing"}})
	all := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"*"}})
	other := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"billing"}})
	gone := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"checkout"}})
	l.revoke(gone)
	untouched := map[string]int{all: 1, other: 1, gone: 2}

	before := l.lastSeq()
	m := meta("delete-checkout")
	r, err := l.h.DeleteProject(l.ctx, m, "checkout", []string{single, multi, all, other, gone, single, "no-such-token", "bad.*"})
	if err != nil {
		t.Fatal(err)
	}
	got := l.assertCascade(m, r, before, []batchEvent{
		{events.TypeProjectDeleted, "checkout"},
		{events.TypeTokenRevoked, single},
		{events.TypeTokenScoped, multi},
	}, untouched)
	rev, err := got[1].Payload()
	if err != nil || rev.(events.TokenRevoked).Reason != events.ReasonProjectDeleted {
		t.Errorf("single-project token: %+v %v", rev, err)
	}
	sc, err := got[2].Payload()
	if err != nil || !slices.Equal(sc.(events.TokenScoped).Projects, []string{"billing"}) {
		t.Errorf("multi-project token: %+v %v", sc, err)
	}
	for _, id := range []string{single, multi} {
		l.load(events.KindToken, id) // chain check
	}
	l.load(events.KindProject, "checkout")

	again, err := l.h.DeleteProject(l.ctx, m, "checkout", []string{single, multi})
	if err != nil || !again.Replayed || again.Seq != r.Seq || l.lastSeq() != r.Seq {
		t.Fatalf("replay: %+v %v, stream at %d", again, err, l.lastSeq())
	}
	if _, err := l.h.DeleteProject(l.ctx, meta(""), "checkout", nil); !errors.Is(err, commands.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "checkout"}); !errors.Is(err, commands.ErrExists) {
		t.Fatalf("re-create deleted project: %v, want ErrExists", err)
	}
}

// Ensure deleting a user or service account revokes its live tokens (reason
// owner-deleted) in the same batch, and skips revoked and foreign tokens.
func TestHandler_DeletePrincipalRevokesItsTokens(t *testing.T) {
	l := newLedger(t)
	exp := now.Add(24 * time.Hour)
	for _, id := range []string{"u-alice", "u-bob"} {
		if _, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: id, Username: id, RootRole: events.RoleEditor}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := l.h.CreateServiceAccount(l.ctx, meta(""), commands.CreateServiceAccount{ServiceAccountID: "sa-ci", Name: "CI", Username: "ci", RootRole: events.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	alice := &events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	bob := &events.Owner{Kind: events.ActorUser, ID: "u-bob"}
	ci := &events.Owner{Kind: events.ActorServiceAccount, ID: "sa-ci"}
	pat := func(o *events.Owner) string {
		return l.token(commands.CreateToken{Type: events.TokenPersonal, Owner: o, ExpiresAt: &exp, Path: events.PathPAT})
	}
	pat1, pat2, patGone, bobs := pat(alice), pat(alice), pat(alice), pat(bob)
	l.revoke(patGone)
	ciTok := l.token(commands.CreateToken{Type: events.TokenServiceAccount, Owner: ci, Path: events.PathServiceAccount})

	tests := []struct {
		name      string
		del       func(m commands.Meta) (commands.Result, error)
		head      string
		revoked   []string
		untouched []string
	}{
		{"delete_user_revokes_her_pats", func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteUser(l.ctx, m, "u-alice", []string{pat1, patGone, bobs, pat2, ciTok})
		}, events.TypeUserDeleted, []string{pat1, pat2}, []string{patGone, bobs, ciTok}},
		{"delete_service_account_revokes_its_tokens", func(m commands.Meta) (commands.Result, error) {
			return l.h.DeleteServiceAccount(l.ctx, m, "sa-ci", []string{ciTok, bobs})
		}, events.TypeServiceAccountDeleted, []string{ciTok}, []string{bobs}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.t = t
			sizes := map[string]int{}
			for _, id := range tt.untouched {
				sizes[id] = len(l.load(events.KindToken, id))
			}
			before := l.lastSeq()
			r, err := tt.del(meta("del-" + tt.name))
			if err != nil {
				t.Fatal(err)
			}
			n := 1 + len(tt.revoked)
			got := withoutNames(l.between(before+1, r.Seq))
			if r.Seq != l.lastSeq() || len(got) != n {
				t.Fatalf("result %+v, stream %d → %d; want %d events besides name releases", r, before, l.lastSeq(), n)
			}
			if got[0].Type != tt.head {
				t.Fatalf("first event %s, want %s", got[0].Type, tt.head)
			}
			for i, id := range tt.revoked {
				e := got[i+1]
				p, err := e.Payload()
				if err != nil || e.AggregateID != id || p != (events.TokenRevoked{Reason: events.ReasonOwnerDeleted}) {
					t.Errorf("event %d = %s of %s (%+v), want owner-deleted revocation of %s", i+1, e.Type, e.AggregateID, p, id)
				}
				l.load(events.KindToken, id)
			}
			for id, n := range sizes {
				if got := len(l.load(events.KindToken, id)); got != n {
					t.Errorf("token %s went from %d to %d events", id, n, got)
				}
			}
			again, err := tt.del(meta("del-" + tt.name))
			if err != nil || !again.Replayed || again.Seq != r.Seq || l.lastSeq() != r.Seq {
				t.Fatalf("replay: %+v %v, stream at %d; want replayed at %d", again, err, l.lastSeq(), r.Seq)
			}
		})
	}
}

// hookStore is the real store with a hook run after each Load: it lets a
// test change an aggregate between a handler's read and its append.
type hookStore struct {
	*jsstore.Store
	mu        sync.Mutex
	afterLoad func(kind, id string)
}

func (s *hookStore) Load(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	evs, err := s.Store.Load(ctx, kind, id)
	s.mu.Lock()
	hook := s.afterLoad
	s.mu.Unlock()
	if hook != nil {
		hook(kind, id)
	}
	return evs, err
}

// raceAfterLoad runs run with change made once, right after the handler
// under test has loaded the aggregate kind/id: the change lands between the
// handler's read and its append. It returns run's error.
func (s *hookStore) raceAfterLoad(t *testing.T, kind, id string, change, run func() error) error {
	t.Helper()
	var once sync.Once
	s.mu.Lock()
	s.afterLoad = func(k, i string) {
		if k == kind && i == id {
			once.Do(func() {
				if err := change(); err != nil {
					t.Errorf("concurrent change: %v", err)
				}
			})
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.afterLoad = nil
		s.mu.Unlock()
	}()
	return run()
}

// Ensure a token changed between the handler's read and its batch append
// makes the whole batch fail with ErrConflict: the project or user is not
// deleted and no token is touched.
func TestHandler_StaleTokenInBatchConflictsAndStoresNothing(t *testing.T) {
	l := newLedger(t)
	hooked := &hookStore{Store: l.store}
	h := newTestHandler(hooked)
	exp := now.Add(time.Hour)
	if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "checkout"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-alice", Username: "alice", RootRole: events.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	alice := &events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	a := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"checkout"}})
	b := l.token(commands.CreateToken{Type: events.TokenBackend, Projects: []string{"checkout", "default"}})
	p1 := l.token(commands.CreateToken{Type: events.TokenPersonal, Owner: alice, ExpiresAt: &exp, Path: events.PathPAT})
	p2 := l.token(commands.CreateToken{Type: events.TokenPersonal, Owner: alice, ExpiresAt: &exp, Path: events.PathPAT})

	tests := []struct {
		name   string
		stale  string // the token changed behind the handler's back
		run    func() (commands.Result, error)
		kind   string
		id     string
		events int // the aggregate's events, unchanged
	}{
		{"delete_project_with_stale_token", b, func() (commands.Result, error) {
			return h.DeleteProject(l.ctx, meta("del-project"), "checkout", []string{a, b})
		}, events.KindProject, "checkout", 1},
		{"delete_user_with_stale_pat", p2, func() (commands.Result, error) {
			return h.DeleteUser(l.ctx, meta("del-user"), "u-alice", []string{p1, p2})
		}, events.KindUser, "u-alice", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.t = t
			later := now.Add(2 * time.Hour)
			err := hooked.raceAfterLoad(t, events.KindToken, tt.stale, func() error {
				_, err := l.h.ChangeExpiry(l.ctx, meta(""), commands.ChangeExpiry{TokenID: tt.stale, ExpiresAt: &later})
				return err
			}, func() error {
				_, err := tt.run()
				return err
			})
			if !errors.Is(err, commands.ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", err)
			}
			before := l.lastSeq() // after the concurrent change
			if got := len(l.load(tt.kind, tt.id)); got != tt.events {
				t.Fatalf("%s %s has %d events, want %d", tt.kind, tt.id, got, tt.events)
			}
			last := l.between(before, before)
			if len(last) != 1 || last[0].Type != events.TypeTokenExpiryChanged || last[0].AggregateID != tt.stale {
				t.Fatalf("newest event is not the concurrent change: %+v", last)
			}
			// Retried with fresh state, the command goes through.
			r, err := tt.run()
			if err != nil || r.Seq != l.lastSeq() || len(withoutNames(l.between(before+1, r.Seq))) != 3 {
				t.Fatalf("retry: %+v %v, want 3 events besides name releases after %d", r, err, before)
			}
		})
	}
}

// Ensure EnsureDefaults creates project default and environments
// development and production once, as the system, and appends nothing when
// run again, also by two nodes at once.
func TestHandler_EnsureDefaultsIsIdempotent(t *testing.T) {
	l := newLedger(t)
	sys := commands.Meta{Actor: events.System, Via: events.Via{CredentialType: "internal"}}
	r, err := l.h.EnsureDefaults(l.ctx, sys)
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 3 || l.lastSeq() != 3 {
		t.Fatalf("first run: %+v, stream at %d; want 3 events", r, l.lastSeq())
	}
	for _, c := range []struct{ kind, id, typ string }{
		{events.KindProject, commands.DefaultProject, events.TypeProjectCreated},
		{events.KindEnvironment, "development", events.TypeEnvironmentCreated},
		{events.KindEnvironment, "production", events.TypeEnvironmentCreated},
	} {
		evs := l.load(c.kind, c.id)
		if len(evs) != 1 || evs[0].Type != c.typ || evs[0].Actor != events.System {
			t.Fatalf("%s %s: %+v", c.kind, c.id, evs)
		}
		if c.kind == events.KindEnvironment {
			p, _ := evs[0].Payload()
			if p.(events.EnvironmentCreated).Type != c.id {
				t.Errorf("environment %s has type %q", c.id, p.(events.EnvironmentCreated).Type)
			}
		}
	}
	again, err := l.h.EnsureDefaults(l.ctx, sys)
	if err != nil || again != (commands.Result{}) || l.lastSeq() != 3 {
		t.Fatalf("second run: %+v %v, stream at %d; want nothing appended", again, err, l.lastSeq())
	}

	// Two fresh nodes bootstrapping the same empty ledger at once.
	l2 := newLedger(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = newTestHandler(l2.store).EnsureDefaults(l2.ctx, sys)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := l2.lastSeq(); got != 3 {
		t.Fatalf("two nodes bootstrapping stored %d events, want 3", got)
	}
}

// Ensure a create that loses the race to another writer (the aggregate did
// not exist when read, but does when appended) reports ErrExists and
// stores nothing.
func TestHandler_CreateLosingTheRaceIsExists(t *testing.T) {
	l := newLedger(t)
	hooked := &hookStore{Store: l.store}
	h := newTestHandler(hooked)
	tests := []struct {
		name   string
		kind   string
		id     string
		winner func() error
		loser  func() error
	}{
		{"project", events.KindProject, "race", func() error {
			_, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "race"})
			return err
		}, func() error {
			_, err := h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "race", Name: "Loser"})
			return err
		}},
		{"user", events.KindUser, "u-race", func() error {
			_, _, err := l.h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-race", Username: "w", RootRole: events.RoleViewer})
			return err
		}, func() error {
			_, _, err := h.CreateUser(l.ctx, meta(""), commands.CreateUser{UserID: "u-race", Username: "l", RootRole: events.RoleViewer})
			return err
		}},
		{"environment", events.KindEnvironment, "race", func() error {
			_, err := l.h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: "race"})
			return err
		}, func() error {
			_, err := h.CreateEnvironment(l.ctx, meta(""), commands.CreateEnvironment{Name: "race"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.t = t
			err := hooked.raceAfterLoad(t, tt.kind, tt.id, tt.winner, tt.loser)
			if !errors.Is(err, commands.ErrExists) {
				t.Fatalf("got %v, want ErrExists", err)
			}
			if evs := l.load(tt.kind, tt.id); len(evs) != 1 {
				t.Fatalf("%d events, want only the winner's", len(evs))
			}
		})
	}
}

// withoutNames drops the name claims and releases a command makes beside
// its own events.
func withoutNames(evs []events.Envelope) []events.Envelope {
	var out []events.Envelope
	for _, e := range evs {
		if e.AggregateKind != events.KindName {
			out = append(out, e)
		}
	}
	return out
}

package commands_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

func TestDecideCreate_ScopeRules(t *testing.T) {
	t.Parallel()
	user := &events.Owner{Kind: events.ActorUser, ID: "u1"}
	sa := &events.Owner{Kind: events.ActorServiceAccount, ID: "sa1"}
	base := func(mod func(*commands.CreateToken)) commands.CreateToken {
		c := commands.CreateToken{Type: events.TokenBackend, Name: "sdk", Environment: "development",
			Projects: []string{"default"}, Path: events.PathAdminAPI}
		mod(&c)
		return c
	}
	tests := []struct {
		name      string
		cmd       commands.CreateToken
		wantField string // "" = success
		wantMsg   string
		check     func(t *testing.T, e events.TokenCreated)
	}{
		{name: "backend_token_for_one_project", cmd: base(func(*commands.CreateToken) {}),
			check: func(t *testing.T, e events.TokenCreated) {
				if e.AllProjects || len(e.Projects) != 1 || e.Projects[0] != "default" {
					t.Errorf("projects = %v all=%v", e.Projects, e.AllProjects)
				}
			}},
		{name: "star_anywhere_in_projects_means_all_stored_as_flag", cmd: base(func(c *commands.CreateToken) { c.Projects = []string{"a", "*"} }),
			check: func(t *testing.T, e events.TokenCreated) {
				if !e.AllProjects || len(e.Projects) != 0 {
					t.Errorf("want explicit all flag and no list, got %v all=%v", e.Projects, e.AllProjects)
				}
			}},
		{name: "several_projects_sorted_and_deduplicated", cmd: base(func(c *commands.CreateToken) { c.Projects = []string{"b", "a", "b"} }),
			check: func(t *testing.T, e events.TokenCreated) {
				if len(e.Projects) != 2 || e.Projects[0] != "a" || e.Projects[1] != "b" {
					t.Errorf("projects = %v", e.Projects)
				}
			}},
		{name: "empty_project_list_is_rejected_never_all", cmd: base(func(c *commands.CreateToken) { c.Projects = nil }), wantField: "projects"},
		{name: "client_token_never_all_environments", cmd: base(func(c *commands.CreateToken) { c.Type = events.TokenClient; c.Environment = "*" }),
			wantField: "environment", wantMsg: "Client token cannot be scoped to all environments"},
		{name: "backend_token_never_all_environments", cmd: base(func(c *commands.CreateToken) { c.Environment = "*" }),
			wantField: "environment", wantMsg: "Client token cannot be scoped to all environments"},
		{name: "frontend_token_never_all_environments", cmd: base(func(c *commands.CreateToken) { c.Type = events.TokenFrontend; c.Environment = "*" }),
			wantField: "environment", wantMsg: "Frontend token cannot be scoped to all environments"},
		{name: "admin_token_all_projects_all_environments", cmd: base(func(c *commands.CreateToken) {
			c.Type = events.TokenAdmin
			c.Projects = []string{"*"}
			c.Environment = "*"
		})},
		{name: "admin_token_single_project_rejected", cmd: base(func(c *commands.CreateToken) { c.Type = events.TokenAdmin; c.Environment = "*" }),
			wantField: "projects", wantMsg: "Admin token cannot be scoped to single project"},
		{name: "admin_token_single_environment_rejected", cmd: base(func(c *commands.CreateToken) { c.Type = events.TokenAdmin; c.Projects = []string{"*"} }),
			wantField: "environment", wantMsg: "Admin token cannot be scoped to single environment"},
		{name: "unknown_type_rejected", cmd: base(func(c *commands.CreateToken) { c.Type = "root" }), wantField: "type"},
		{name: "missing_name_rejected", cmd: base(func(c *commands.CreateToken) { c.Name = "" }), wantField: "tokenName"},
		{name: "overlong_name_rejected", cmd: base(func(c *commands.CreateToken) { c.Name = string(make([]byte, 256)) }), wantField: "tokenName"},
		{name: "missing_environment_rejected", cmd: base(func(c *commands.CreateToken) { c.Environment = "" }), wantField: "environment"},
		{name: "environment_with_dot_rejected", cmd: base(func(c *commands.CreateToken) { c.Environment = "a.b" }), wantField: "environment"},
		{name: "project_with_wildcard_char_rejected", cmd: base(func(c *commands.CreateToken) { c.Projects = []string{"a>"} }), wantField: "projects"},
		{name: "expiry_in_past_rejected", cmd: base(func(c *commands.CreateToken) { c.ExpiresAt = at(-time.Second) }), wantField: "expiresAt"},
		{name: "expiry_in_future_kept_in_utc", cmd: base(func(c *commands.CreateToken) { c.ExpiresAt = at(time.Hour) }),
			check: func(t *testing.T, e events.TokenCreated) {
				if e.ExpiresAt == nil || !e.ExpiresAt.Equal(now.Add(time.Hour)) {
					t.Errorf("expiresAt = %v", e.ExpiresAt)
				}
			}},
		{name: "personal_token_needs_owner", cmd: base(func(c *commands.CreateToken) { c.Type = events.TokenPersonal; c.ExpiresAt = at(time.Hour) }), wantField: "owner"},
		{name: "personal_token_needs_expiry", cmd: base(func(c *commands.CreateToken) { c.Type = events.TokenPersonal; c.Owner = user }), wantField: "expiresAt"},
		{name: "personal_token_owned_by_user", cmd: base(func(c *commands.CreateToken) {
			c.Type = events.TokenPersonal
			c.Owner = user
			c.ExpiresAt = at(time.Hour)
			c.Path = events.PathPAT
		}), check: func(t *testing.T, e events.TokenCreated) {
			if e.Owner == nil || e.Owner.ID != "u1" || e.Environment != "" || len(e.Projects) != 0 {
				t.Errorf("got %+v", e)
			}
		}},
		{name: "personal_token_not_owned_by_service_account", cmd: base(func(c *commands.CreateToken) {
			c.Type = events.TokenPersonal
			c.Owner = sa
			c.ExpiresAt = at(time.Hour)
		}), wantField: "owner"},
		{name: "service_account_token_may_never_expire", cmd: base(func(c *commands.CreateToken) {
			c.Type = events.TokenServiceAccount
			c.Owner = sa
		})},
		{name: "scoped_token_has_no_owner", cmd: base(func(c *commands.CreateToken) { c.Owner = user }), wantField: "owner"},
		{name: "unknown_path_rejected", cmd: base(func(c *commands.CreateToken) { c.Path = "backdoor" }), wantField: "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := commands.DecideCreate(commands.TokenState{}, tt.cmd, "verifier", "hint", now)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got.Verifier != "verifier" || got.Hint != "hint" || got.TokenType != tt.cmd.Type {
					t.Errorf("payload = %+v", got)
				}
				if tt.check != nil {
					tt.check(t, got)
				}
				return
			}
			var v *commands.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("want ValidationError on %s, got %v", tt.wantField, err)
			}
			if v.Field != tt.wantField {
				t.Errorf("field = %q, want %q (%v)", v.Field, tt.wantField, err)
			}
			if tt.wantMsg != "" && v.Reason != tt.wantMsg {
				t.Errorf("reason = %q, want %q", v.Reason, tt.wantMsg)
			}
		})
	}
}

func TestDecideCreate_ExistingTokenIsRejected(t *testing.T) {
	t.Parallel()
	_, err := commands.DecideCreate(commands.TokenState{AggregateState: commands.AggregateState{Exists: true}}, commands.CreateToken{}, "v", "h", now)
	if !errors.Is(err, commands.ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
}

func TestDecideLifecycle(t *testing.T) {
	t.Parallel()
	liveTok := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "t"}, Type: events.TokenBackend, Projects: []string{"a", "b"}, ExpiresAt: at(-time.Minute)}
	revoked := liveTok
	revoked.Revoked = true
	pat := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "p"}, Type: events.TokenPersonal, ExpiresAt: at(time.Hour)}
	all := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "s"}, Type: events.TokenBackend, AllProjects: true}
	expiredRecorded := liveTok
	expiredRecorded.Expired = true

	tests := []decideCase{
		{name: "change_expiry_of_unknown_token_is_not_found", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(commands.TokenState{}, commands.ChangeExpiry{})
		}, wantErr: commands.ErrNotFound},
		{name: "change_expiry_of_revoked_token_is_gone", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(revoked, commands.ChangeExpiry{ExpiresAt: at(time.Hour)})
		}, wantErr: commands.ErrGone},
		{name: "change_expiry_to_never", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(liveTok, commands.ChangeExpiry{})
		}, check: eventOf(events.TypeTokenExpiryChanged)},
		{name: "change_expiry_to_the_one_it_has_is_unchanged", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(pat, commands.ChangeExpiry{ExpiresAt: pat.ExpiresAt})
		}, wantErr: commands.ErrUnchanged},
		{name: "change_expiry_from_never_to_never_is_unchanged", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(all, commands.ChangeExpiry{})
		}, wantErr: commands.ErrUnchanged},
		{name: "change_expiry_to_past_is_accepted", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(liveTok, commands.ChangeExpiry{ExpiresAt: at(-time.Hour)})
		}, check: eventOf(events.TypeTokenExpiryChanged)},
		{name: "personal_token_expiry_cannot_be_never", decide: func() (events.Payload, error) {
			return commands.DecideChangeExpiry(pat, commands.ChangeExpiry{})
		}, wantInvalid: true},
		{name: "expire_after_expiry_moment", decide: func() (events.Payload, error) { return commands.DecideExpire(liveTok, now) }, check: eventOf(events.TypeTokenExpired)},
		{name: "expire_before_expiry_moment_rejected", decide: func() (events.Payload, error) { return commands.DecideExpire(pat, now) }, wantInvalid: true},
		{name: "expire_token_without_expiry_rejected", decide: func() (events.Payload, error) { return commands.DecideExpire(all, now) }, wantInvalid: true},
		{name: "expire_twice_rejected", decide: func() (events.Payload, error) { return commands.DecideExpire(expiredRecorded, now) }, wantErr: commands.ErrExists},
		{name: "revoke_live_token", decide: func() (events.Payload, error) {
			return commands.DecideRevoke(liveTok, commands.RevokeToken{Reason: events.ReasonDeleted})
		}, check: eventOf(events.TypeTokenRevoked)},
		{name: "revoke_twice_is_gone", decide: func() (events.Payload, error) {
			return commands.DecideRevoke(revoked, commands.RevokeToken{Reason: events.ReasonDeleted})
		}, wantErr: commands.ErrGone},
		{name: "revoke_needs_known_reason", decide: func() (events.Payload, error) {
			return commands.DecideRevoke(liveTok, commands.RevokeToken{Reason: "because"})
		}, wantInvalid: true},
		{name: "scope_drops_one_of_two_projects", decide: func() (events.Payload, error) {
			return commands.DecideScope(liveTok, commands.ScopeToken{Remove: []string{"a"}})
		}, check: eventOf(events.TypeTokenScoped)},
		{name: "scope_removing_last_project_revokes_never_widens", decide: func() (events.Payload, error) {
			return commands.DecideScope(liveTok, commands.ScopeToken{Remove: []string{"a", "b"}})
		}, check: eventOf(events.TypeTokenRevoked)},
		{name: "scope_of_all_projects_token_rejected", decide: func() (events.Payload, error) {
			return commands.DecideScope(all, commands.ScopeToken{Remove: []string{"a"}})
		}, wantInvalid: true},
		{name: "scope_without_overlap_rejected", decide: func() (events.Payload, error) {
			return commands.DecideScope(liveTok, commands.ScopeToken{Remove: []string{"z"}})
		}, wantInvalid: true},
	}
	runDecideTable(t, tests)
}

func TestDecideScope_KeepsRemainingProjects(t *testing.T) {
	t.Parallel()
	s := commands.TokenState{AggregateState: commands.AggregateState{Exists: true}, Projects: []string{"a", "b", "c"}}
	p, err := commands.DecideScope(s, commands.ScopeToken{Remove: []string{"b"}, Cause: "project-deleted:b"})
	if err != nil {
		t.Fatal(err)
	}
	sc := p.(events.TokenScoped)
	if len(sc.Projects) != 2 || sc.Projects[0] != "a" || sc.Projects[1] != "c" || len(sc.PreviousProjects) != 3 {
		t.Fatalf("got %+v", sc)
	}
	if len(s.Projects) != 3 {
		t.Fatal("decide mutated its input state")
	}
}

func TestDecideChangeExpiry_DatesBefore1970StopTheTokenAndAreNeverZero(t *testing.T) {
	t.Parallel()
	s := commands.TokenState{AggregateState: commands.AggregateState{Exists: true, ID: "t"}, Type: events.TokenBackend}
	for _, in := range []time.Time{{}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)} {
		got, err := commands.DecideChangeExpiry(s, commands.ChangeExpiry{ExpiresAt: &in})
		if err != nil {
			t.Fatal(err)
		}
		if got.New == nil || got.New.IsZero() || !got.New.Equal(time.Unix(0, 0)) {
			t.Errorf("expiry %v became %v, want the epoch", in, got.New)
		}
	}
}

package bootstrap_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/bootstrap"
)

func TestParse(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // type/project/environment of each token
		wantErr string
	}{
		{name: "admin_token", env: map[string]string{bootstrap.EnvAdmin: "*:*." + secret}, want: []string{"admin/*/*"}},
		{name: "several_separated_by_comma_and_space", env: map[string]string{bootstrap.EnvAdmin: "*:*.a" + secret + ", *:*.b" + secret},
			want: []string{"admin/*/*", "admin/*/*"}},
		{name: "backend_and_frontend", env: map[string]string{bootstrap.EnvBackend: "default:development." + secret, bootstrap.EnvFrontend: "*:production." + secret},
			want: []string{"backend/default/development", "frontend/*/production"}},
		{name: "older_client_variable_is_read_when_backend_is_unset", env: map[string]string{bootstrap.EnvClient: "default:development." + secret},
			want: []string{"backend/default/development"}},
		{name: "backend_variable_wins_over_client", env: map[string]string{bootstrap.EnvBackend: "a:development." + secret, bootstrap.EnvClient: "b:development." + secret},
			want: []string{"backend/a/development"}},
		{name: "duplicates_dropped", env: map[string]string{bootstrap.EnvAdmin: "*:*." + secret + ",*:*." + secret}, want: []string{"admin/*/*"}},
		{name: "admin_scoped_to_project_rejected", env: map[string]string{bootstrap.EnvAdmin: "default:*." + secret}, wantErr: "INIT_ADMIN_API_TOKENS entry 1"},
		{name: "admin_scoped_to_environment_rejected", env: map[string]string{bootstrap.EnvAdmin: "*:development." + secret}, wantErr: "admin token must start with *:*."},
		{name: "backend_all_environments_rejected", env: map[string]string{bootstrap.EnvBackend: "*:*." + secret}, wantErr: "cannot be scoped to all environments"},
		{name: "no_colon_rejected", env: map[string]string{bootstrap.EnvFrontend: secret}, wantErr: "INIT_FRONTEND_API_TOKENS entry 1 is not of the form"},
		{name: "many_projects_part_rejected", env: map[string]string{bootstrap.EnvBackend: "[]:development." + secret}, wantErr: "does not say which projects"},
		{name: "empty_entry_rejected", env: map[string]string{bootstrap.EnvAdmin: "*:*." + secret + ",,"}, wantErr: "entry 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bootstrap.Parse(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatal("error message contains the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			again, err := bootstrap.Parse(func(k string) string { return tt.env[k] })
			if err != nil || len(again) != len(got) {
				t.Fatalf("a second parse gave %d tokens, err %v", len(again), err)
			}
			var desc []string
			for i, tok := range got {
				desc = append(desc, tok.Type+"/"+tok.Projects[0]+"/"+tok.Environment)
				if tok.ID() == "" || tok.ID() != again[i].ID() {
					t.Fatal("a token's id is not derived from its secret alone")
				}
			}
			if strings.Join(desc, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", desc, tt.want)
			}
		})
	}
}

func TestToken_IDDependsOnlyOnTheSecret(t *testing.T) {
	parse := func(v string) bootstrap.Token {
		toks, err := bootstrap.Parse(func(k string) string {
			if k == bootstrap.EnvAdmin {
				return v
			}
			return ""
		})
		if err != nil || len(toks) == 0 {
			t.Fatal(err)
		}
		return toks[len(toks)-1]
	}
	a, b := parse("*:*.one-secret-aaaaaaaaaaaa"), parse("*:*.x-other-secret, *:*.one-secret-aaaaaaaaaaaa")
	if a.ID() != b.ID() {
		t.Fatal("the same secret got another id at another position")
	}
	if a.ID() == parse("*:*.two-secret-aaaaaaaaaaaa").ID() {
		t.Fatal("two secrets share an id")
	}
	if strings.Contains(a.ID(), "one-secret") || a.Type != events.TokenAdmin {
		t.Fatalf("bad token %+v", a)
	}
}

// A secret part is weak when it is short, when it repeats a few
// characters (32 x's are not 32 random characters), or when it is one of
// Unleash's published quick-start secrets. The ledger refuses weak admin
// secrets and well-known secrets of any type, and only warns about other
// weak ones.
func TestToken_WeakWhenTheSecretPartIsShortRepetitiveOrWellKnown(t *testing.T) {
	const random = "9f2c1ad07be34e5c8a61f0d29b7e4c3a5d8f1e6b2a9c4d7e0f3b6a1c8e5d2f9a"
	tests := []struct {
		in            string
		weak, refused bool
	}{
		{"*:*.short", true, true},
		{"*:*." + random[:31], true, true},
		{"*:*." + random[:32], false, false},
		{"*:*." + strings.Repeat("x", 32), true, true},
		{"*:*." + strings.Repeat("ab12", 16), true, true},
		{"*:*.unleash-insecure-admin-api-token", true, true},
		{"default:development." + strings.Repeat("0", 64), true, false},
		{"default:development.backend-1", true, false},
		{"default:development." + random, false, false},
		{"default:development.unleash-insecure-api-token", true, true},
		{"default:development.UNLEASH-INSECURE-api-token-with-a-long-tail", true, true},
	}
	for _, tt := range tests {
		toks, err := bootstrap.Parse(func(k string) string {
			if strings.HasPrefix(tt.in, "*:*") && k == bootstrap.EnvAdmin || !strings.HasPrefix(tt.in, "*:*") && k == bootstrap.EnvBackend {
				return tt.in
			}
			return ""
		})
		if err != nil || len(toks) != 1 {
			t.Fatalf("%v %v", toks, err)
		}
		if toks[0].Weak() != tt.weak || toks[0].Refused() != tt.refused {
			t.Errorf("%s token of %d characters: Weak = %v, Refused = %v; want %v, %v",
				toks[0].Type, len(tt.in), toks[0].Weak(), toks[0].Refused(), tt.weak, tt.refused)
		}
	}
}

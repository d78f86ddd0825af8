// Package bootstrap imports the tokens named by INIT_ADMIN_API_TOKENS,
// INIT_BACKEND_API_TOKENS (or the older INIT_CLIENT_API_TOKENS) and
// INIT_FRONTEND_API_TOKENS, as Unleash does, but idempotently and on every
// start: each secret becomes a token whose id is derived from its verifier,
// so a restart with the same variables finds it and appends nothing, and a
// token deleted through the API is not brought back.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// Variables read by Parse, in the order they are imported.
const (
	EnvAdmin    = "INIT_ADMIN_API_TOKENS"
	EnvBackend  = "INIT_BACKEND_API_TOKENS"
	EnvClient   = "INIT_CLIENT_API_TOKENS" // older name of EnvBackend, read when it is unset
	EnvFrontend = "INIT_FRONTEND_API_TOKENS"
)

// Token is one token to import. Its secret is only held in memory.
type Token struct {
	Var         string // the variable it came from
	Index       int    // 1-based position in that variable
	Type        string
	Projects    []string
	Environment string
	Secret      commands.Secret
}

// MinStrongBody is the shortest secret part (after "project:env.") that a
// bootstrap token should have. Verifiers are plain SHA-256 and readers of
// the stream can see them, so a short hand-chosen secret could be guessed
// offline from its verifier.
const MinStrongBody = 32

// minDistinct is the fewest distinct characters a strong secret part
// has: 32 characters of one or two letters repeated are not 32 random
// ones.
const minDistinct = 8

// Weak reports whether the token's secret part is guessable from its
// verifier: shorter than MinStrongBody, made of fewer than minDistinct
// distinct characters, or well known ([Token.WellKnown]).
func (t Token) Weak() bool {
	p, err := commands.ParseToken(t.Secret.Reveal())
	if err != nil || len(p.Body) < MinStrongBody || t.WellKnown() {
		return true
	}
	distinct := map[rune]bool{}
	for _, r := range p.Body {
		distinct[r] = true
	}
	return len(distinct) < minDistinct
}

// WellKnown reports whether the token's secret part is published: one of
// Unleash's documented quick-start secrets (unleash-insecure-…, in its
// documentation and docker-compose files), which anyone who reads a
// verifier tries first.
func (t Token) WellKnown() bool {
	p, err := commands.ParseToken(t.Secret.Reveal())
	return err == nil && strings.Contains(strings.ToLower(p.Body), "unleash-insecure")
}

// Refused reports whether the ledger refuses to start with the token: a
// well-known secret of any type, or a weak admin secret (an admin token
// is hand-chosen by definition and controls everything). Other weak
// secrets are only warned about.
func (t Token) Refused() bool {
	return t.WellKnown() || t.Type == events.TokenAdmin && t.Weak()
}

// Name is the token's name: where it came from, e.g.
// "INIT_ADMIN_API_TOKENS[1]".
func (t Token) Name() string { return fmt.Sprintf("%s[%d]", t.Var, t.Index) }

var ns = uuid.MustParse("3b0e6c2e-5f0a-4a43-9d8e-2f3c4b5a6d7e")

// ID is the token's aggregate id, derived from its verifier (never from the
// secret itself), so the same secret maps to the same token on every start.
func (t Token) ID() string {
	return uuid.NewSHA1(ns, []byte("bootstrap:"+t.Secret.Verifier())).String()
}

// Parse reads the variables through getenv and checks each secret against
// Unleash's scope rules. Errors name the variable and position, never the
// secret.
func Parse(getenv func(string) string) ([]Token, error) {
	var out []Token
	seen := map[string]bool{}
	backendVar := EnvBackend
	if getenv(EnvBackend) == "" && getenv(EnvClient) != "" {
		backendVar = EnvClient
	}
	for _, v := range []struct {
		name, typ string
	}{{EnvAdmin, events.TokenAdmin}, {backendVar, events.TokenBackend}, {EnvFrontend, events.TokenFrontend}} {
		raw := getenv(v.name)
		if strings.TrimSpace(raw) == "" {
			continue
		}
		for i, s := range strings.Split(raw, ",") {
			s = strings.TrimSpace(s)
			at := fmt.Sprintf("%s entry %d", v.name, i+1)
			if s == "" {
				return nil, fmt.Errorf("%s is empty", at)
			}
			p, err := commands.ParseToken(s)
			if err != nil || p.Shape != commands.ShapeAPI {
				return nil, fmt.Errorf("%s is not of the form <project>:<environment>.<secret>", at)
			}
			t := Token{Var: v.name, Index: i + 1, Type: v.typ, Environment: p.Environment, Secret: commands.NewSecretFrom(s)}
			switch {
			case v.typ == events.TokenAdmin && (p.Projects != commands.AllProjects || p.Environment != commands.AllEnvironments):
				return nil, fmt.Errorf("%s: an admin token must start with *:*. (all projects, all environments)", at)
			case v.typ != events.TokenAdmin && p.Environment == commands.AllEnvironments:
				return nil, fmt.Errorf("%s: a %s token cannot be scoped to all environments", at, v.typ)
			case p.Projects == commands.ManyProjects:
				return nil, fmt.Errorf("%s: the project part [] does not say which projects; name one project or *", at)
			}
			t.Projects = []string{p.Projects}
			if seen[s] {
				continue // Unleash drops duplicates too
			}
			seen[s] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// TokenIndex tells whether a token exists.
type TokenIndex interface {
	TokenExists(id string) bool
}

// Import creates every token that does not exist yet, as events of the
// actor system. It returns how many it created. A token whose project or
// environment is not live is refused by the command (its scope rule), and
// the import stops with that error. Several replicas importing at once
// create each token once: its id and command id derive from its secret.
func Import(ctx context.Context, h *commands.Handler, idx TokenIndex, tokens []Token) (int, error) {
	created := 0
	for _, t := range tokens {
		if idx.TokenExists(t.ID()) {
			// Imported on an earlier start (and perhaps deleted since, or
			// its project or environment deleted since): nothing to do.
			continue
		}
		m := commands.Meta{
			CommandID: "bootstrap-" + t.ID(),
			Actor:     events.System,
			Via:       events.Via{CredentialType: "internal", RequestID: t.Var},
		}
		_, err := h.CreateToken(ctx, m, commands.CreateToken{TokenID: t.ID(), Type: t.Type, Name: t.Name(),
			Environment: t.Environment, Projects: t.Projects, Path: events.PathBootstrap, Secret: t.Secret})
		switch {
		case errors.Is(err, commands.ErrExists):
			continue
		case err != nil:
			// The scope is the operator's own configuration and never holds the
			// secret part, so the start-up error names it.
			return created, fmt.Errorf("import %s (environment %q, projects %q): %w", t.Name(), t.Environment, t.Projects, err)
		}
		created++
	}
	return created, nil
}

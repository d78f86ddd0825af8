package commands

import "github.com/tokenledger/tokenledger/events"

// The read ports below are how rules consult the read models. A read model
// lags the stream and is only a suggestion: every rule that must hold under
// concurrency is decided again in the stream (a claim or an expectation on
// the aggregate the rule is about). A nil port means "no read model": the
// handler then relies on the stream alone and on the lists its callers
// pass.

// Catalogue answers questions about projects and environments.
type Catalogue interface {
	// ProjectLive reports whether the project exists and is not deleted.
	ProjectLive(id string) bool
	// EnvironmentLive reports whether the environment exists and is not
	// deleted.
	EnvironmentLive(name string) bool
	// Environments lists the names of the live environments.
	Environments() []string
}

// TokenIndex answers questions about tokens.
type TokenIndex interface {
	// OwnedTokens lists the tokens owner has or had, revoked ones included.
	OwnedTokens(owner events.Owner) []TokenRef
	// ProjectTokens lists the ids of the not-revoked tokens whose explicit
	// project list includes project: those its deletion cascades to.
	ProjectTokens(project string) []string
	// EnvironmentTokens lists the ids of the not-revoked tokens scoped to
	// the environment: those its deletion cascades to.
	EnvironmentTokens(env string) []string
}

// TokenRef is what a TokenIndex tells about one token.
type TokenRef struct {
	ID      string
	Type    string // events.Token*
	Revoked bool
}

// ownedLive is the ids of owner's not-revoked tokens per the index, after
// the ones the caller named.
func (h *Handler) ownedLive(owner events.Owner, named []string) []string {
	if h.tokens == nil {
		return named
	}
	out := append([]string(nil), named...)
	for _, t := range h.tokens.OwnedTokens(owner) {
		if !t.Revoked {
			out = append(out, t.ID)
		}
	}
	return out
}

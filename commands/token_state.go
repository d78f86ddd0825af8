package commands

import (
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// TokenState is a token as the command side sees it: folded from the token
// aggregate's own events, loaded from the stream for every command. Its
// AggregateState carries the bookkeeping every aggregate has (Exists, ID,
// Version, LastHash, Commands); a token is never Deleted, it is Revoked.
type TokenState struct {
	AggregateState
	Type        string
	Owner       *events.Owner
	Environment string
	Projects    []string
	AllProjects bool
	ExpiresAt   *time.Time
	Revoked     bool
	Expired     bool // a token.expired event was recorded
	// Created is the token.created payload, as stored.
	Created events.TokenCreated
}

// FoldToken builds a TokenState from a token's events in stream order.
func FoldToken(evs []events.Envelope) (TokenState, error) { return TokenState{}.more(evs) }

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s TokenState) more(evs []events.Envelope) (TokenState, error) {
	err := foldEach(events.KindToken, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.TokenCreated:
			s.Exists = true
			s.Type = d.TokenType
			s.Owner = d.Owner
			s.Environment = d.Environment
			s.Projects = d.Projects
			s.AllProjects = d.AllProjects
			s.ExpiresAt = d.ExpiresAt
			s.Created = d
		case events.TokenScoped:
			s.Projects = d.Projects
		case events.TokenExpiryChanged:
			s.ExpiresAt = d.New
			s.Expired = false
		case events.TokenExpired:
			s.Expired = true
		case events.TokenRevoked:
			s.Revoked = true
		default:
			return false
		}
		return true
	})
	if err != nil {
		return TokenState{}, err
	}
	return s, nil
}

package commands

import (
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// TokenState is a token as the command side sees it: folded from the token
// aggregate's own events, loaded from the stream for every command.
type TokenState struct {
	Exists      bool
	ID          string
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
	// Version is the stream sequence of the aggregate's last event: the
	// expectation of the next append. LastHash is that event's hash: the
	// next event's Prev.
	Version  uint64
	LastHash string
	// Commands maps the command ids recorded on the aggregate to the
	// sequences of their events, so a retried command is recognised.
	Commands map[string]uint64
}

// FoldToken builds a TokenState from a token's events in stream order.
func FoldToken(evs []events.Envelope) (TokenState, error) {
	var s TokenState
	for i := range evs {
		e := &evs[i]
		p, err := e.Payload()
		if err != nil {
			return TokenState{}, err
		}
		switch d := p.(type) {
		case events.TokenCreated:
			s.Exists = true
			s.ID = e.AggregateID
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
			return TokenState{}, fmt.Errorf("token %s: unexpected event %s", e.AggregateID, e.Type)
		}
		s.Version = e.Sequence
		s.LastHash = e.Hash
		if e.CommandID != "" {
			if s.Commands == nil {
				s.Commands = map[string]uint64{}
			}
			s.Commands[e.CommandID] = e.Sequence
		}
	}
	return s, nil
}

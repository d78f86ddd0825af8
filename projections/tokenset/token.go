package tokenset

import (
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// Status is the outcome of verifying a secret.
type Status int

// Verification outcomes. Only Valid lets a request through.
const (
	// Unknown: no token has the secret's verifier.
	Unknown Status = iota
	// Valid: the token exists, is not revoked and has not expired.
	Valid
	// Revoked: the token was revoked (revocation wins over expiry).
	Revoked
	// Expired: the token's expiry moment has passed, or a token.expired
	// event was recorded for its current expiry.
	Expired
)

// String returns the lowercase name of the status ("valid", …).
func (s Status) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Valid:
		return "valid"
	case Revoked:
		return "revoked"
	case Expired:
		return "expired"
	}
	return "status(invalid)"
}

// Token is one token as the stream describes it: created by token.created
// and changed by the later events of its aggregate. It never holds the
// secret, only its verifier.
//
// A Token handed out by a [Set] is a copy, but its Projects slice and Owner
// pointer are shared with the Set: callers must not mutate them. (The Set
// itself never mutates them either; a scope change installs a new slice.)
type Token struct {
	// The fields Verify reads come first, so that the verifier compare and
	// the status check touch one cache line: verifier (32 bytes),
	// ExpiresAt (24) and the two status flags.
	verifier [32]byte
	// ExpiresAt is zero when the token never expires.
	ExpiresAt time.Time
	Revoked   bool
	// ExpiredRecorded reports that a token.expired event was applied for the
	// current ExpiresAt. A later token.expiry-changed clears it.
	ExpiredRecorded bool
	// AllProjects is the explicit all-projects scope. A scope change
	// (token.scoped) always clears it: a scope is never widened.
	AllProjects bool
	// OnBehalfOf is set when an admin issued a personal token for another
	// user (the Owner).
	OnBehalfOf bool
	// Orphaned is set when what the token acts for is gone: its
	// environment, every project it lists, or its owner was deleted (in
	// stream order, before or after the token was created). An orphaned
	// token verifies as Revoked, like an expired one verifies as Expired
	// before the scheduler records it; the scope sweeper (internal/sweep)
	// records the revocation.
	Orphaned bool

	ID          string // aggregate id (UUID), the token's public id
	Type        string // an events.Token* constant
	Name        string
	Owner       *events.Owner // user or service account for personal and service-account tokens; nil otherwise
	Environment string
	Projects    []string  // explicit project list; not consulted when AllProjects
	CreatedAt   time.Time // Time of the token.created event
	CreatedSeq  uint64    // stream sequence of token.created; a personal access token's integer id
	Path        string    // an events.Path* constant
	Hint        string    // display hint: prefix plus the last 4 characters
	CreatedBy   events.Actor
	RevokedAt   time.Time // Time of the token.revoked event
	// RevokeReason is the reason of the token.revoked event (an
	// events.Reason* constant).
	RevokeReason string
	// Version is the stream sequence of the token's last event.
	Version uint64
}

// Verifier returns the token's verifier: the SHA-256 of its whole secret,
// as [events.Verifier] computes it. It is not a secret.
func (t *Token) Verifier() [32]byte { return t.verifier }

// StatusAt is the token's status at now: Revoked if it was revoked or is
// Orphaned; Expired
// if ExpiresAt is set and now is not before it, or if token.expired was
// recorded; Valid otherwise. There is no window in which an expired token
// works, whether or not the scheduler recorded token.expired yet.
func (t *Token) StatusAt(now time.Time) Status {
	switch {
	case t.Revoked, t.Orphaned:
		return Revoked
	case t.ExpiredRecorded, !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return Expired
	}
	return Valid
}

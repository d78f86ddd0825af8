package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Unique names (usernames, e-mails, role names) are claimed by aggregates of
// kind name, in the same atomic append as the event that introduces the
// name, with the claim's own optimistic-concurrency expectation. Two
// concurrent creates with the same name therefore conflict in the stream,
// and exactly one wins, on one node or many.
const (
	KindName = "name"

	TypeNameClaimed  = "name.claimed"
	TypeNameReleased = "name.released"
)

// Name scopes.
const (
	// ScopeUsername covers the logins of users and service accounts:
	// usernames and e-mail addresses share it (Unleash keeps users and
	// service accounts in one table, and a sign-in header may carry
	// either), so no login can name two principals.
	ScopeUsername = "username"
	// ScopeEmail is no longer claimed (e-mails share ScopeUsername); kept so
	// claims recorded with it still decode.
	ScopeEmail    = "email"
	ScopeRoleName = "role-name"
	// ScopePATDescription covers the descriptions of one owner's personal
	// and service-account tokens; the name is PATName(owner, description).
	ScopePATDescription = "pat-description"
	// ScopeIdempotencyKey covers the Idempotency-Keys clients send: the
	// first command carrying a key claims it, so the same key sent later
	// with another request is refused instead of silently taken for a
	// retry. The name is the key namespaced by caller and route, hashed.
	ScopeIdempotencyKey = "idempotency-key"
)

// PATName is the name claimed for a personal or service-account token's
// description: unique per owner, as in Unleash.
func PATName(owner Owner, description string) string {
	return owner.Kind + ":" + owner.ID + "/" + description
}

// NameID is the aggregate id of a name within a scope: the hex SHA-256 of
// the scope and the name folded to lower case, cut to 32 characters (a
// valid subject token whatever the name holds).
func NameID(scope, name string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + strings.ToLower(strings.TrimSpace(name))))
	return hex.EncodeToString(sum[:16])
}

// NameClaimed records that Holder (an aggregate: kind user, serviceaccount
// or role, and its id) took a unique name.
type NameClaimed struct {
	Scope  string `json:"scope"`
	Name   string `json:"name"`
	Holder Owner  `json:"holder"`
}

// NameReleased records that the name's holder gave it up (it was deleted or
// renamed); the name may be claimed again.
type NameReleased struct{}

func (NameClaimed) EventType() string      { return TypeNameClaimed }
func (NameReleased) EventType() string     { return TypeNameReleased }
func (NameClaimed) AggregateKind() string  { return KindName }
func (NameReleased) AggregateKind() string { return KindName }
func (NameClaimed) SchemaVersion() int     { return 1 }
func (NameReleased) SchemaVersion() int    { return 1 }

func init() {
	register[NameClaimed](1, nil)
	register[NameReleased](1, nil)
}

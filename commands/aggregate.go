package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenledger/tokenledger/events"
)

// Limits on principal and catalogue fields.
const (
	// MaxDescriptionLen bounds role and project descriptions, in characters.
	MaxDescriptionLen = 1000
	// MaxEmailLen bounds e-mail addresses, in bytes (RFC 5321's path limit).
	MaxEmailLen = 254
)

// ErrInvalidOperation: the command is well-formed but the ledger never
// carries it out, whoever asks (deleting the default project). Unleash
// answers such requests with 403 InvalidOperationError.
var ErrInvalidOperation = errors.New("invalid operation")

// OperationError is a refused operation (it wraps ErrInvalidOperation)
// whose Reason is safe to show to the caller: it never repeats input.
type OperationError struct{ Reason string }

func (e *OperationError) Error() string { return "invalid operation: " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidOperation) hold.
func (e *OperationError) Unwrap() error { return ErrInvalidOperation }

// liveAggregate returns ErrNotFound (wrapped when deleted) unless a is live.
func liveAggregate(kind string, a AggregateState) error {
	switch {
	case !a.Exists:
		return ErrNotFound
	case a.Deleted:
		return fmt.Errorf("%w: the %s was deleted", ErrNotFound, kind)
	}
	return nil
}

// checkRoleRef validates a reference to a role of roleType: a predefined
// role name of that type (exact spelling) or the id of a live custom role of
// that type, whose folded state the handler passes as custom (the zero
// RoleState when ref names no custom role).
func checkRoleRef(field, ref, roleType string, custom RoleState) error {
	if ref == "" {
		return invalid(field, "is required")
	}
	predefined, other := PredefinedRootRoles, PredefinedProjectRoles
	if roleType == events.RoleTypeProject {
		predefined, other = other, predefined
	}
	switch {
	case slices.Contains(predefined, ref):
		return nil
	case slices.Contains(other, ref):
		return invalid(field, "%s is not a %s role", ref, roleType) // a predefined name, never a secret
	case !custom.Live() || custom.ID != ref:
		return invalid(field, "unknown role")
	case custom.Type != roleType:
		return invalid(field, "the role is a %s role, not a %s role", custom.Type, roleType)
	}
	return nil
}

// checkDescription validates an optional description.
func checkDescription(field, d string) error {
	switch {
	case !utf8.ValidString(d):
		return invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		return invalid(field, "must be at most %d characters", MaxDescriptionLen)
	}
	return checkText(field, d, true)
}

// checkEmail is a shape sanity check, not RFC 5322: one '@' with a
// non-empty local part before it, a domain with a dot after it that neither
// starts nor ends with one, no whitespace or control characters.
func checkEmail(field, email string) error {
	if len(email) > MaxEmailLen || !utf8.ValidString(email) {
		return invalid(field, "must be a valid e-mail address of at most %d characters", MaxEmailLen)
	}
	if strings.IndexFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return invalid(field, "must not contain spaces, control or format characters")
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || strings.Contains(domain, "@") ||
		!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return invalid(field, "must look like name@example.com")
	}
	return nil
}

// roleRef loads the custom role a command refers to. Predefined names, empty
// refs and refs that cannot be ids yield the zero RoleState; the decide
// function then judges the reference.
func (h *Handler) roleRef(ctx context.Context, ref string) (RoleState, error) {
	if ref == "" || IsPredefinedRole(ref) {
		return RoleState{}, nil
	}
	return load(ctx, h, events.KindRole, ref, FoldRole)
}

// principalLive reports whether m names a live user or service account.
func (h *Handler) principalLive(ctx context.Context, m events.Owner) (bool, error) {
	switch m.Kind {
	case events.ActorUser:
		s, err := load(ctx, h, events.KindUser, m.ID, FoldUser)
		return s.Live(), err
	case events.ActorServiceAccount:
		s, err := load(ctx, h, events.KindServiceAccount, m.ID, FoldServiceAccount)
		return s.Live(), err
	}
	return false, nil
}

// DecideOwnerDeletedToken decides what deleting owner does to one token:
// token.revoked with reason owner-deleted for a token of that owner that is
// not revoked yet; nil (skip) for a revoked, unknown or foreign token.
func DecideOwnerDeletedToken(t TokenState, owner events.Owner) (events.Payload, error) {
	if !t.Exists || t.Revoked || t.Owner == nil || *t.Owner != owner {
		return nil, nil
	}
	return DecideRevoke(t, RevokeToken{TokenID: t.ID, Reason: events.ReasonOwnerDeleted})
}

// DecideProjectDeletedToken decides what deleting projectID does to one
// token: token.scoped without it for a multi-project token, token.revoked
// (reason project-deleted) for a token left without projects, and nil (skip)
// for a revoked, unknown or all-projects token or one that does not list the
// project.
func DecideProjectDeletedToken(t TokenState, projectID string) (events.Payload, error) {
	if !t.Exists || t.Revoked || t.AllProjects || !slices.Contains(t.Projects, projectID) {
		return nil, nil
	}
	return DecideScope(t, ScopeToken{TokenID: t.ID, Remove: []string{projectID}, Cause: events.ReasonProjectDeleted + ":" + projectID})
}

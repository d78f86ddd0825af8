package commands

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on. ErrConflict and ErrUnavailable live in
// store.go beside the port that returns them.
var (
	// ErrNotFound: the aggregate a command names does not exist.
	ErrNotFound = errors.New("not found")
	// ErrGone: the token is revoked; nothing about it can change any more.
	ErrGone = errors.New("token is revoked")
	// ErrUnchanged: the command asks for what the aggregate already is (an
	// expiry set to the one the token has); nothing is appended, and the
	// caller's wish holds.
	ErrUnchanged = errors.New("nothing to change")
	// ErrExists: a create named an aggregate that already exists.
	ErrExists = errors.New("already exists")
	// ErrForbidden: the actor may not do this.
	ErrForbidden = errors.New("forbidden")
)

// ValidationError says which field of a command is wrong and why. Its message
// is safe to show to users and never contains a secret.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// IsValidation reports whether err is (or wraps) a ValidationError.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

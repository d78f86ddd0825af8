package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
)

// apiError is the one error shape of every route (Unleash's):
// {id, name, message, details:[{message, path?}]}. Its texts are safe to
// show: they never contain a secret.
type apiError struct {
	Status  int      `json:"-"`
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Message string   `json:"message"`
	Details []detail `json:"details"`
}

type detail struct {
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, name, msg string, details ...detail) *apiError {
	if len(details) == 0 {
		details = []detail{{Message: msg}}
	}
	return &apiError{Status: status, ID: uuid.NewString(), Name: name, Message: msg, Details: details}
}

func badRequest(path, msg string) *apiError {
	return newError(http.StatusBadRequest, "BadDataError",
		"Request validation failed: your request body or params contain invalid data: "+msg,
		detail{Message: msg, Path: path})
}

func unauthorized(msg string) *apiError {
	return newError(http.StatusUnauthorized, "AuthenticationRequired", msg)
}

func forbidden(msg string) *apiError {
	return newError(http.StatusForbidden, "PermissionError", msg)
}

func notFound(msg string) *apiError {
	return newError(http.StatusNotFound, "NotFoundError", msg)
}

func conflict(msg string) *apiError {
	return newError(http.StatusConflict, "NameExistsError", msg)
}

// toAPIError is the single place that maps errors to HTTP statuses. Anything
// unrecognised is a 500 with a generic message; the detail goes to the log.
func (s *Server) toAPIError(r *http.Request, err error) *apiError {
	var ae *apiError
	var ve *commands.ValidationError
	var denied *authz.Denied
	var taken *commands.NameTakenError
	var refused *commands.OperationError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		return badRequest(ve.Field, ve.Error())
	case errors.As(err, &denied):
		return newError(http.StatusForbidden, "OperationDeniedError", denied.Error())
	case errors.Is(err, commands.ErrKeyReused):
		return newError(http.StatusUnprocessableEntity, "IdempotencyKeyReusedError",
			"this Idempotency-Key was already used with a different request; send a new key for a new request")
	case errors.Is(err, commands.ErrTooManyTokens):
		return newError(http.StatusForbidden, "OperationDeniedError", fmt.Sprintf("Too many PATs (%d) already exist for this user.", s.cmd.MaxAccountTokens()))
	case errors.Is(err, commands.ErrNotFirstToken):
		return newError(http.StatusForbidden, "OperationDeniedError", "The user already has or had a personal access token; only a user's first token may be issued on their behalf")
	case errors.As(err, &taken) && taken.Scope == events.ScopePATDescription:
		return conflict("PAT description already exists.")
	case errors.As(err, &taken):
		// The scope, never the name: a name could be a pasted secret.
		what := map[string]string{events.ScopeUsername: "username or e-mail address", events.ScopeEmail: "e-mail address",
			events.ScopeRoleName: "role name", events.ScopePATDescription: "token description"}[taken.Scope]
		if what == "" {
			what = "name"
		}
		return conflict("The " + what + " is already taken")
	case errors.As(err, &refused):
		return newError(http.StatusForbidden, "InvalidOperationError", refused.Reason)
	case errors.Is(err, commands.ErrInvalidOperation):
		return newError(http.StatusForbidden, "InvalidOperationError", "The ledger does not allow this operation")
	case errors.Is(err, commands.ErrNotFound):
		return notFound("Could not find the requested resource")
	case errors.Is(err, commands.ErrExists):
		return conflict("The resource already exists")
	case errors.Is(err, commands.ErrGone):
		return newError(http.StatusConflict, "ConflictError", "The token is revoked and cannot change any more")
	case errors.Is(err, commands.ErrConflict):
		return newError(http.StatusConflict, "ConflictError", "The resource was changed by another request; read it again and retry")
	case errors.Is(err, commands.ErrOutcomeUnknown):
		s.log.Error("ledger did not confirm a change in time", "err", err, "request_id", requestID(r))
		return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
			"The ledger did not confirm the change in time (its cluster may be electing a leader); it may or may not be recorded: retry with the same Idempotency-Key, which records it at most once")
	case errors.Is(err, commands.ErrFailedClosed):
		s.log.Error("ledger failed closed", "err", err, "request_id", requestID(r))
		return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
			"The ledger refuses changes until an operator repairs its stream and restarts it (/ready names the cause); nothing was changed")
	case errors.Is(err, commands.ErrUnavailable):
		s.log.Error("ledger unavailable", "err", err, "request_id", requestID(r))
		return newError(http.StatusServiceUnavailable, "ServiceUnavailableError", "The ledger cannot record changes right now; nothing was changed")
	}
	// The route pattern, never the path: a path may hold a full secret
	// (management routes accept one in place of the token id).
	s.log.Error("internal error", "err", err, "method", r.Method, "route", r.Pattern, "request_id", requestID(r))
	return newError(http.StatusInternalServerError, "InternalError", "Internal error; nothing was changed unless a later read shows it")
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := s.toAPIError(r, err)
	if ae.Status == http.StatusServiceUnavailable {
		switch {
		case s.stoppedForGood(err):
			w.Header().Del("Retry-After")
		case w.Header().Get("Retry-After") == "":
			w.Header().Set("Retry-After", "5")
		}
	}
	writeJSON(w, ae.Status, ae)
}

var _ = slog.Default

// stoppedForGood reports whether a 503 caused by err is one that no wait
// ends, so that its answer carries no Retry-After (and a client that
// honours one, the CLI's verify and export, reports it at once): the
// projections stopped (evidence of tampering, a key rotated elsewhere),
// err is evidence of tampering, or the store failed closed for good
// (its stream deleted, replaced, sealed, cut short): err says so, or
// the store does (a 503 for another reason while it is latched, the
// whole-log check's after a start say: atk-r29). Only an operator and a
// restart end these.
func (s *Server) stoppedForGood(err error) bool {
	return s.runner.Err() != nil || events.AsTamper(err) != nil || errors.Is(err, commands.ErrFailedClosed) ||
		(s.health != nil && errors.Is(s.health(), commands.ErrFailedClosed))
}

package verifier

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tokenledger/tokenledger/projections/tokenset"
)

type tokenKey struct{}

// TokenFrom returns the token [Verifier.Middleware] verified for the
// request whose context this is.
func TokenFrom(ctx context.Context) (*tokenset.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(*tokenset.Token)
	return t, ok
}

// Middleware lets a request through to next only with a valid token in
// its Authorization header ("Bearer <secret>" or the bare secret, as
// tokenledger and Unleash take it); next finds the token with [TokenFrom].
// A missing, unknown, revoked or expired token is answered 401 with
// WWW-Authenticate: Bearer error="invalid_token" (RFC 6750); while the
// verifier is not ready or its feed is stale, 503 with Retry-After (fail
// closed). The answers never repeat the secret.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := bearer(r.Header.Get("Authorization"))
		if secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tokenledger"`)
			writeError(w, http.StatusUnauthorized, "missing_token", "an Authorization header with a token is required")
			return
		}
		t, err := v.Verify(secret)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
		case errors.Is(err, ErrStale), errors.Is(err, ErrNotReady):
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "verifier_unavailable", "tokens cannot be verified now: the verifier is not in step with the ledger")
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="tokenledger", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", strings.TrimPrefix(err.Error(), "verifier: "))
		}
	})
}

// bearer is the secret of an Authorization header value.
func bearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}

// writeError answers a JSON error; code and message are constants of this
// package, never input.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","message":"` + msg + `"}` + "\n"))
}

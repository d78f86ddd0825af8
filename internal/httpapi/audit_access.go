package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
)

// Who may read the audit trail, and the record of each read (issue 14):
// Admin, or a custom root role holding READ_AUDIT_LOG. Every read that
// passed its checks appends an audit.queried event before it is answered
// (no record, no answer), and so does every refusal of an authenticated
// caller (403). Each record spends one token of the caller's mutation
// budget (--mutation-rate/--mutation-burst): reading the trail cannot
// append faster than changing the ledger, and an empty budget is a 429
// that appends nothing. Callers that did not authenticate append nothing;
// tokenledger_audit_unauthenticated_total counts them.

// Bounds of the filters a record keeps. A refused caller's query is not
// parsed, so its names and values are the caller's choice: the record
// keeps at most maxRecordedBytes of them (names and values counted) and
// says how many values it dropped under the name "[dropped]".
const (
	maxRecordedParams = 32
	maxRecordedValues = 16
	maxRecordedBytes  = 4 << 10
)

// auditor is authed for the audit trail's routes: the caller needs ADMIN
// or READ_AUDIT_LOG; a refusal is recorded.
func (s *Server) auditor(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		authenticated := false
		err := s.authedPrelude(w, r, func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
			authenticated = true
			if !p.Has(authz.ReadAuditLog) {
				return s.auditDenied(w, r, p)
			}
			if s.historyUnchecked != nil && s.historyUnchecked() {
				// Nothing read, nothing recorded: retry shortly (the check
				// of a million records takes seconds).
				w.Header().Set("Retry-After", "1")
				return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
					"The ledger is still checking the history it restored its snapshot over (the whole-log check after a start); the audit trail answers once every stored record is checked")
			}
			return h(w, r, p)
		})
		if err == nil {
			return
		}
		var ae *apiError
		if !authenticated && errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized ||
			ae.Status == http.StatusForbidden || ae.Status == http.StatusTooManyRequests) {
			s.metrics.auditUnauthenticated.Inc()
		}
		s.writeError(w, r, err)
	}
}

// auditDenied records an authenticated caller's refused read and returns
// the 403 (or the 429 of an empty budget, recording nothing).
func (s *Server) auditDenied(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	missing := authz.Admin + " or " + authz.ReadAuditLog
	denied := forbidden("You don't have the necessary access [" + missing + "] to perform this operation")
	if err := s.recordRead(w, r, p, events.AuditQueried{Outcome: events.AuditDenied, Missing: authz.ReadAuditLog}); err != nil {
		return err
	}
	return denied
}

// recordRead appends the audit.queried record of a read (q's route and
// filters are filled from r), spending one token of p's mutation budget.
// It sets X-Ledger-Sequence to the record's sequence.
func (s *Server) recordRead(w http.ResponseWriter, r *http.Request, p *authz.Principal, q events.AuditQueried) error {
	if wait, ok := s.writes.take(p.Kind+"\x00"+p.ID, s.cmd.Now()); !ok {
		return tooManyRequests(w, wait, "Too many audit-trail reads and changes by this principal; retry after the time in Retry-After")
	}
	q.Route = r.Pattern
	if q.Filters == nil {
		q.Filters = s.recordedFilters(r)
	}
	res, err := s.cmd.RecordAuditRead(r.Context(), commands.Meta{Actor: p.Actor(), Via: p.Via}, q)
	if err != nil {
		return err
	}
	w.Header().Set("X-Ledger-Sequence", itoa(res.Seq))
	return nil
}

// recordedFilters is what a record keeps of a request's parameters: the
// path values of its route and its query parameters, bounded in number
// and size, made fit for the record (auditText), and with any value that
// is a token's secret replaced (the trail never holds one).
func (s *Server) recordedFilters(r *http.Request) map[string][]string {
	out := map[string][]string{}
	size, dropped := 0, 0
	keep := func(k string, vs []string) {
		// Redacted before the cut to its bound, so a cut cannot keep part
		// of a secret (the first cut bounds the redaction's work).
		k = auditText(s.redactSecret(auditText(k, 4*maxParamLen)), 64)
		for i, v := range vs {
			v = auditText(s.redactSecret(auditText(v, 4*maxParamLen)), maxParamLen)
			if i >= maxRecordedValues || (len(out) >= maxRecordedParams && out[k] == nil) ||
				size+len(k)+len(v) > maxRecordedBytes {
				dropped++
				continue
			}
			size += len(k) + len(v)
			out[k] = append(out[k], v)
		}
	}
	for _, name := range patternNames(r.Pattern) {
		if v := r.PathValue(name); v != "" {
			keep(name, []string{v})
		}
	}
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		keep(k, q[k])
	}
	if dropped > 0 {
		out["[dropped]"] = []string{strconv.Itoa(dropped)}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// redactSecret replaces v by "[secret]" when it holds a token's secret:
// as a whole, trimmed, or as one of its words (a value such as
// "Bearer <secret>" or "<secret>,x"), or when a word has the shape of a
// token's secret (projects:environment.hash with a long hash, or a legacy
// 64-hex token) whether or not the ledger holds it now, or when it holds a
// run of hex digits as long as a secret's anywhere (a personal token's
// "user:{hex}" in any wrapping). Filter values are ids, names, types, times
// and sequences: none has that shape.
func (s *Server) redactSecret(v string) string {
	// scrubSecrets changes v when it holds a secret's run of hex digits or
	// a held secret among its long enough parts.
	if s.holdsSecret(v) || s.holdsSecret(strings.TrimSpace(v)) || s.scrubSecrets(v) != v {
		return "[secret]"
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == ';' || r == '=' || r == '&' || r == '"' || r == '\''
	}) {
		if s.holdsSecret(w) || secretShaped(w) {
			return "[secret]"
		}
	}
	return v
}

// holdsSecret reports whether v is a secret the token set holds, or the
// part after the public prefix of a secret this process was given
// (Config.SecretBodies).
func (s *Server) holdsSecret(v string) bool {
	if v == "" {
		return false
	}
	if _, ok := s.tokens.Lookup(v); ok {
		return true
	}
	if s.bodies.is(v) {
		// The part of a given secret after its public prefix is as
		// secret as the whole.
		return true
	}
	return false
}

// secretShaped reports whether w looks like a token's secret: a legacy
// token (64 hex digits) or projects:environment.hash whose hash has at
// least 32 characters.
func secretShaped(w string) bool {
	if len(w) == 64 && strings.Trim(strings.ToLower(w), "0123456789abcdef") == "" {
		return true
	}
	colon := strings.IndexByte(w, ':')
	if colon < 0 {
		return false
	}
	dot := strings.IndexByte(w[colon:], '.')
	return dot >= 0 && len(w)-(colon+dot+1) >= 32
}

// patternNames are the wildcard names of a route pattern
// ("GET /api/ledger/tokens/{id}/history" → id).
func patternNames(pattern string) []string {
	var out []string
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSuffix(pattern[i+1:i+j], "..."))
		pattern = pattern[i+j+1:]
	}
}

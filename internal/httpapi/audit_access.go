package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"

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

// Bounds of the filters a record keeps.
const (
	maxRecordedParams = 32
	maxRecordedValues = 16
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
	keep := func(k string, vs []string) {
		if len(out) >= maxRecordedParams {
			return
		}
		k = auditText(k, 64)
		for _, v := range vs[:min(len(vs), maxRecordedValues)] {
			out[k] = append(out[k], s.redactSecret(auditText(v, maxParamLen)))
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
	if len(out) == 0 {
		return nil
	}
	return out
}

// redactSecret replaces v by "[secret]" when it is a token's secret.
func (s *Server) redactSecret(v string) string {
	if _, ok := s.tokens.Lookup(v); ok {
		return "[secret]"
	}
	return v
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

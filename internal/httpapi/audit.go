package httpapi

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// The audit trail's query: GET /api/ledger/events. Every parameter is
// checked: an unknown one, a repeated single one, an empty or malformed
// value is a 400 that names it.

// auditParams are the query parameters of GET /api/ledger/events; the
// repeatable ones may be given several times (any of them matches).
var auditParams = map[string]bool{
	"token": false, "aggregate": false, "kind": false, "actor": true, "credential": false,
	"type": true, "project": false, "environment": false, "since": false, "until": false,
	"from_seq": false, "to_seq": false, "after": false, "before": false, "order": false,
	"limit": false, "format": false,
}

// maxParamLen bounds every parameter value (ids, names, e-mails, types).
const maxParamLen = 256

// auditQuery is a parsed GET /api/ledger/events request.
type auditQuery struct {
	q      auditlog.Query
	format string // "" (a JSON page), "ndjson", "csv" or "ocsf"
	limit  bool   // limit was given
	// filters is what was asked, for the audit.queried record.
	filters map[string][]string
}

// parseAuditQuery reads and checks the query string; accept is the
// request's Accept header (an export is asked for by format or Accept).
func (s *Server) parseAuditQuery(values url.Values, accept string) (auditQuery, error) {
	var out auditQuery
	out.filters = map[string][]string{}
	for k, vs := range values {
		repeatable, known := auditParams[k]
		if !known {
			return out, badRequest(k, "unknown parameter "+strconv.Quote(trimParam(k)))
		}
		if len(vs) > 1 && !repeatable {
			return out, badRequest(k, k+" may be given once")
		}
		if len(vs) > maxRecordedValues {
			// The record of the read keeps every value it used.
			return out, badRequest(k, fmt.Sprintf("%s may be given at most %d times", k, maxRecordedValues))
		}
		for _, v := range vs {
			if v == "" {
				return out, badRequest(k, k+" must not be empty")
			}
			if len(v) > maxParamLen || !utf8.ValidString(v) {
				return out, badRequest(k, k+" must be valid UTF-8 of at most 256 bytes")
			}
		}
		if k != "format" && k != "order" && k != "limit" {
			out.filters[k] = vs
		}
	}
	q := &out.q
	get := values.Get
	if t, a := get("token"), get("aggregate"); t != "" && a != "" {
		return out, badRequest("token", "give token or aggregate, not both")
	} else if t != "" {
		q.AggregateID, q.Kind = s.tokenRef(t), "token"
	} else {
		q.AggregateID, q.Kind = a, get("kind")
	}
	for _, a := range values["actor"] {
		q.Actors = append(q.Actors, s.resolveActor(a)...)
	}
	q.CredentialID, q.Project, q.Environment = get("credential"), get("project"), get("environment")
	if q.CredentialID != "" {
		q.CredentialID = s.tokenRef(q.CredentialID)
	}
	q.Types = values["type"]
	var err error
	if q.Since, err = parseTime("since", get("since")); err != nil {
		return out, err
	}
	if q.Until, err = parseTime("until", get("until")); err != nil {
		return out, err
	}
	for _, f := range []struct {
		name string
		to   *uint64
	}{{"from_seq", &q.FromSeq}, {"to_seq", &q.ToSeq}, {"after", &q.After}, {"before", &q.Before}} {
		if *f.to, err = parseSeq(f.name, get(f.name)); err != nil {
			return out, err
		}
	}
	switch get("order") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return out, badRequest("order", "order must be asc or desc")
	}
	if q.Desc && q.After > 0 || !q.Desc && q.Before > 0 {
		return out, badRequest("after", "after is the cursor of order=asc, before of order=desc")
	}
	if get("until") != "" && q.Until.IsZero() {
		// until is exclusive and no event is older than the first instant
		// of year 1, so nothing matches. The log reads a zero Until as no
		// bound: the window is closed by the sequence instead.
		q.Before = 1
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditlog.MaxLimit {
			return out, badRequest("limit", "limit must be an integer from 1 to 1000")
		}
		q.Limit, out.limit = n, true
	}
	switch f := get("format"); f {
	case "":
		out.format = exportFormatFromAccept(accept)
	case "json": // asked for by name: a page, whatever Accept says
	case "ndjson", "csv", "ocsf":
		out.format = f
	default:
		return out, badRequest("format", "format must be json, ndjson, csv or ocsf")
	}
	if out.format != "" && out.limit {
		return out, badRequest("limit", "an export has every matching event: limit applies to pages only")
	}
	return out, nil
}

// tokenRef is the id of the token ref names: ref itself, or the id of the
// token whose full secret ref is (the ledger routes take either).
func (s *Server) tokenRef(ref string) string {
	if _, ok := s.tokens.ByID(ref); ok {
		return ref
	}
	if t, ok := s.tokens.Lookup(ref); ok {
		return t.ID
	}
	return ref
}

// exportFormatFromAccept picks an export from the Accept header: NDJSON or
// CSV when asked for by name, else a JSON page.
func exportFormatFromAccept(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/x-ndjson", "application/ndjson":
			return "ndjson"
		case "text/csv":
			return "csv"
		}
	}
	return ""
}

func trimParam(k string) string {
	if len(k) > 64 {
		return k[:64] + "…"
	}
	return k
}

// parseSeq reads a stream sequence: a positive integer.
func parseSeq(field, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, badRequest(field, field+" must be a stream sequence (a positive integer)")
	}
	return n, nil
}

// resolveActor is every actor id or name a value of actor= may stand for:
// the value itself (a ledger actor id, or the name events record), and
// the ledger id of the user or service account whose Unleash integer id,
// e-mail or username it is.
func (s *Server) resolveActor(v string) []string {
	out := []string{v}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if u, ok := s.dir.UserByIntID(n); ok {
			out = append(out, u.ID)
		}
		if sa, ok := s.dir.ServiceAccountByIntID(n); ok {
			out = append(out, sa.ID)
		}
	}
	if u, ok := s.dir.UserByLogin(v); ok {
		out = append(out, u.ID)
	}
	return out
}

// cursor is a page's next cursor on the wire: the sequence as a string,
// or null on the last page.
func cursor(next uint64) *string {
	if next == 0 {
		return nil
	}
	c := strconv.FormatUint(next, 10)
	return &c
}

// queryEvents: GET /api/ledger/events (see openapi.json): a page of the
// audit trail, or an export of every matching event.
func (s *Server) queryEvents(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	aq, err := s.parseAuditQuery(r.URL.Query(), r.Header.Get("Accept"))
	if err != nil {
		return err
	}
	if aq.format != "" {
		release, err := s.longRead(w, p, longReadExport)
		if err != nil {
			return err
		}
		defer release()
	}
	if err := s.recordRead(w, r, p, events.AuditQueried{Outcome: events.AuditAllowed, Format: cmp.Or(aq.format, "json")}); err != nil {
		return err
	}
	if aq.format != "" {
		return s.exportEvents(w, r, aq, !p.IsAdmin())
	}
	page, err := s.audit.Page(r.Context(), aq.q)
	if err != nil {
		return err
	}
	out := struct {
		Events  []ledgerEvent `json:"events"`
		Next    *string       `json:"next"`
		Through uint64        `json:"through"`
	}{Events: make([]ledgerEvent, 0, len(page.Entries)), Next: cursor(page.Next), Through: page.Through}
	for _, e := range page.Entries {
		out.Events = append(out.Events, toLedgerEvent(shownTo(p, e)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

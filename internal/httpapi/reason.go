package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// X-Ledger-Reason: why a change was made, stored as the event's reason
// and shown in the audit trail's pages and exports (issue 14). Accepted
// on every change (documented on the PUT and DELETE routes of tokens,
// users, service accounts, projects and environments); without it the
// event keeps the operation's default reason.

// reasonHeader is the header that carries a change's reason.
const reasonHeader = "X-Ledger-Reason"

// maxReasonBytes bounds a reason; a longer one is a 400, not cut.
const maxReasonBytes = 512

type reasonKey struct{}

// withReason checks a mutation's X-Ledger-Reason and puts it, made fit for
// the record (auditText: no control or format characters), in the
// request's context for meta. Sent twice, not UTF-8 or longer than
// maxReasonBytes: a 400. A secret in it is replaced by "[secret]"
// (scrubSecrets): the reason goes to the stream, the trail and the feed.
func (s *Server) withReason(r *http.Request) (*http.Request, error) {
	vs := r.Header.Values(reasonHeader)
	switch {
	case len(vs) == 0:
		return r, nil
	case len(vs) > 1:
		return r, badRequest(reasonHeader, reasonHeader+" may be given once")
	case !utf8.ValidString(vs[0]):
		return r, badRequest(reasonHeader, reasonHeader+" must be UTF-8")
	case len(vs[0]) > maxReasonBytes:
		return r, badRequest(reasonHeader, reasonHeader+" must be at most "+strconv.Itoa(maxReasonBytes)+" bytes")
	}
	reason := auditText(s.scrubSecrets(vs[0]), maxReasonBytes)
	if reason == "" {
		return r, nil
	}
	return r.WithContext(context.WithValue(r.Context(), reasonKey{}, reason)), nil
}

// reasonOf is the request's checked reason ("" when none was given).
func reasonOf(r *http.Request) string {
	v, _ := r.Context().Value(reasonKey{}).(string)
	return v
}

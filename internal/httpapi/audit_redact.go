package httpapi

import (
	"bytes"

	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// An admin token's verifier is an unsalted SHA-256 of a hand-chosen secret
// (INIT_ADMIN_API_TOKENS): a target for offline guessing, and a guessed
// secret is the ledger's own administration credential. The readers' feed
// leaves it out (projections/feed); the audit trail's pages, exports,
// histories and verdicts leave it out for every reader who is not an
// Admin (a compliance officer's READ_AUDIT_LOG is not the power to
// administer the ledger). Such an event's data then no longer hashes to
// its stored hash: an auditor proves it with a bundle, or as an Admin.

// shownTo is e as p may read it.
func shownTo(p *authz.Principal, e auditlog.Entry) auditlog.Entry {
	return redacted(!p.IsAdmin(), e)
}

// redacted is e with an admin token's verifier blanked when redact is set.
func redacted(redact bool, e auditlog.Entry) auditlog.Entry {
	if redact && e.Type == "token.created" {
		e.Data = blankAdminVerifier(e.Data)
	}
	return e
}

var (
	adminTokenType = []byte(`"tokenType":"admin"`)
	verifierKey    = []byte(`"verifier":"`)
)

// blankAdminVerifier returns b (a stored event or its data) with the value
// of "verifier" emptied when b is an admin token's creation, in a new
// slice; otherwise b itself. A JSON string cannot hold either pattern
// (its quotes are escaped), so a name or reason cannot fake or hide one.
func blankAdminVerifier(b []byte) []byte {
	if !bytes.Contains(b, adminTokenType) {
		return b
	}
	i := bytes.Index(b, verifierKey)
	if i < 0 {
		return b
	}
	start := i + len(verifierKey)
	end := bytes.IndexByte(b[start:], '"')
	if end <= 0 {
		return b
	}
	out := make([]byte, 0, len(b)-end)
	out = append(out, b[:start]...)
	return append(out, b[start+end:]...)
}

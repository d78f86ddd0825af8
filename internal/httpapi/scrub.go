package httpapi

import (
	"fmt"
	"strings"
	"unicode"
)

// minSecretHex is the shortest run of hex digits taken for (part of) a
// token's secret in free text. The ledger's secrets end in 64 hex digits
// (56 random and an 8-digit checksum) and legacy tokens are 64 hex digits;
// a git SHA-1 (40) or a UUID's groups stay readable.
const minSecretHex = 48

// hexRuns calls fn with the byte offsets [i, j) of each run of at least
// minSecretHex hex digits in v.
func hexRuns(v string, fn func(i, j int)) {
	start := -1
	for k := 0; k <= len(v); k++ {
		if k < len(v) && isHex(v[k]) {
			if start < 0 {
				start = k
			}
			continue
		}
		if start >= 0 && k-start >= minSecretHex {
			fn(start, k)
		}
		start = -1
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hasSecretHex reports whether v holds a run of hex digits as long as a
// token secret's.
func hasSecretHex(v string) bool {
	found := false
	hexRuns(v, func(int, int) { found = true })
	return found
}

// scrubSecrets returns free text a client sent (a reason, a User-Agent)
// with every part that may be a token's secret replaced by "[secret]": a
// run of hex digits as long as a secret's, and any word the token set
// holds as a secret (an admin token's or an imported one, of any shape). It
// runs before the text is cut to its bound, so a cut cannot leave part of a
// secret behind.
func (s *Server) scrubSecrets(v string) string {
	if v == "" {
		return v
	}
	var b strings.Builder
	last := 0
	hexRuns(v, func(i, j int) {
		b.WriteString(v[last:i])
		b.WriteString("[secret]")
		last = j
	})
	if last > 0 {
		b.WriteString(v[last:])
		v = b.String()
	}
	if s.holdsSecret(strings.TrimSpace(v)) {
		return "[secret]"
	}
	for _, w := range strings.FieldsFunc(v, secretSeparator) {
		for _, c := range []string{w, strings.Trim(w, "()<>{}.:!?")} {
			if s.holdsSecret(c) {
				v = strings.ReplaceAll(v, c, "[secret]")
			}
		}
	}
	return v
}

// secretSeparator splits free text into the words a secret may be.
func secretSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == ',' || r == ';' || r == '=' || r == '&' || r == '"' || r == '\''
}

// noSecretIn refuses a name that holds a secret (see scrubSecrets): a
// token's name goes to the stream, the trail and the readers' feed, and
// changing it silently would surprise its owner.
func (s *Server) noSecretIn(field, v string) error {
	if s.scrubSecrets(v) != v {
		return badRequest(field, fmt.Sprintf("%q must not hold a token's secret (it is shown to every reader of the audit trail and the feed)", field))
	}
	return nil
}

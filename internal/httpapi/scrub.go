package httpapi

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenledger/tokenledger/commands"
)

// minSecretHex is the shortest run of hex digits taken for (part of) a
// token's secret in free text. The ledger's secrets end in 64 hex digits
// (56 random and an 8-digit checksum) and legacy tokens are 64 hex digits;
// a git SHA-1 (40) or a UUID's groups stay readable, and so does a digest
// labelled as one ("sha256:…", see digestLabels).
const minSecretHex = 48

// digestLabels mark a run of hex digits as a content digest, which no
// secret of the ledger's shape is (a held legacy token written so is still
// found by the lookup).
var digestLabels = []string{"sha1:", "sha224:", "sha256:", "sha384:", "sha512:", "sha3-256:", "sha3-512:", "blake2b:", "blake3:"}

// minLookupLen is the shortest word looked up in the token set as a
// possible secret: admin secrets have at least 32 characters, and an
// imported Unleash token has its "project:environment." prefix.
const minLookupLen = 20

// maxLookups bounds the token-set lookups one text costs.
const maxLookups = 64

// hexRuns calls fn with the byte offsets [i, j) of each run of at least
// minSecretHex hex digits in v that is not labelled as a digest.
func hexRuns(v string, fn func(i, j int)) {
	start := -1
	for k := 0; k <= len(v); k++ {
		if k < len(v) && isHex(v[k]) {
			if start < 0 {
				start = k
			}
			continue
		}
		if start >= 0 && k-start >= minSecretHex && !digestLabelled(v[:start]) {
			fn(start, k)
		}
		start = -1
	}
}

func digestLabelled(before string) bool {
	for _, l := range digestLabels {
		if len(before) >= len(l) && strings.EqualFold(before[len(before)-len(l):], l) {
			return true
		}
	}
	return false
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

// secretWords calls fn with each part of v that may be a secret of another
// shape (an admin token's, an imported one) and is long enough to be one:
// each word (split at spaces, quotes, brackets, slashes and the like), the
// word trimmed of punctuation, and the parts of the word on either side of
// each colon ("token:<secret>", "<secret>:"). At most maxLookups parts.
func secretWords(v string, fn func(w string) bool) {
	n := 0
	try := func(w string) bool {
		if len(w) < minLookupLen || n >= maxLookups {
			return n < maxLookups
		}
		n++
		return fn(w)
	}
	for _, w := range strings.FieldsFunc(v, secretSeparator) {
		if !try(w) {
			return
		}
		t := strings.Trim(w, ".:!?-_*")
		if t != w && !try(t) {
			return
		}
		for i := 0; i < len(t); i++ {
			if t[i] == ':' && (!try(t[i+1:]) || !try(t[:i])) {
				return
			}
		}
	}
}

// secretSeparator splits free text into the words a secret may be.
func secretSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(",;=&\"'`()<>{}[]|/\\", r)
}

// scrubSecrets returns free text a client sent (a reason, a User-Agent),
// already cleaned by auditText, with every part that may be a token's
// secret replaced by "[secret]": a run of hex digits as long as a
// secret's, and any part the token set holds as a secret (secretWords).
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
	var held []string
	secretWords(v, func(w string) bool {
		if s.holdsSecret(w) {
			held = append(held, w)
		}
		return true
	})
	for _, w := range held {
		v = strings.ReplaceAll(v, w, "[secret]")
	}
	return v
}

// clientText makes text a client sent fit for the record: auditText
// (valid UTF-8, no control or format characters, which could split a
// secret past the scrub), then scrubSecrets, then cut to max bytes. Text
// longer than its first bound loses its last, cut word, so a cut cannot
// keep part of a secret.
func (s *Server) clientText(v string, max int) string {
	const first = 4096
	t := auditText(v, first)
	if len(v) > first {
		t = strings.TrimRightFunc(t, func(r rune) bool { return !secretSeparator(r) })
	}
	return auditText(s.scrubSecrets(t), max)
}

// noSecretIn refuses a name or description that holds a secret: a run of
// hex digits as long as a secret's, or a part the token set holds as one.
// Such text goes to the stream, the trail and the readers' feed, and
// changing it silently would surprise its owner. Text longer than a name
// may be is left to the command's own length check, so the answer to a
// long list of guesses never depends on one being live.
func (s *Server) noSecretIn(field, v string) error {
	if utf8.RuneCountInString(v) > commands.MaxNameLen {
		return nil
	}
	bad := hasSecretHex(v)
	if !bad {
		secretWords(v, func(w string) bool {
			bad = s.holdsSecret(w)
			return !bad
		})
	}
	if bad {
		return badRequest(field, fmt.Sprintf("%q must not hold a token's secret (it is shown to every reader of the audit trail and the feed)", field))
	}
	return nil
}

// heldPart reports whether v (a request id: letters, digits and "._-"),
// or a part of it before or after one of its punctuation marks, is a
// secret the token set holds ("req-<secret>", "<secret>.1").
func (s *Server) heldPart(v string) bool {
	if s.holdsSecret(v) {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '-' && c != '_' && c != '.' {
			continue
		}
		for _, w := range []string{v[i+1:], v[:i]} {
			if len(w) >= minLookupLen && s.holdsSecret(w) {
				return true
			}
		}
	}
	return false
}

// noSecrets is noSecretIn for several fields, given as name, value pairs.
func (s *Server) noSecrets(fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if err := s.noSecretIn(fieldValues[i], fieldValues[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

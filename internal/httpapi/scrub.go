package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenledger/tokenledger/commands"
)

// minSecretHex is the shortest run of hex digits taken for (part of) a
// token's secret in free text. The ledger's secrets end in 64 hex digits
// (56 random and an 8-digit checksum) and legacy tokens are 64 hex digits;
// a git SHA-1 (40) or a UUID's groups stay readable. A content digest of
// 48 or more hex digits (sha256:…) is taken for a secret too: its digits
// cannot be told from a secret's, whose public prefix the trail shows.
const minSecretHex = 48

// minLookupLen is the shortest word looked up in the token set as a
// possible secret: admin secrets have at least 32 characters, and an
// imported Unleash token has its "project:environment." prefix.
const minLookupLen = 20

// maxLookups bounds the token-set lookups one text costs; a text that
// would need more is treated as holding a secret (fail closed).
const maxLookups = 64

// hexRuns calls fn with the byte offsets [i, j) of each run of at least
// minSecretHex hex digits in v. Invisible characters (controls, format
// characters, combining marks, variation selectors, fillers; bytes that
// are not UTF-8) do not end a run, so they cannot split a secret past the
// check. A visible one does, as an ASCII space or comma does: a no-break
// space, an ideographic comma or a letter between short figures does not
// make them a secret (atk-r15).
func hexRuns(v string, fn func(i, j int)) {
	start, digits, end := -1, 0, 0
	flush := func() {
		if start >= 0 && digits >= minSecretHex {
			fn(start, end)
		}
		start, digits = -1, 0
	}
	for k := 0; k < len(v); k++ {
		c := v[k]
		switch {
		case isHex(c):
			if start < 0 {
				start = k
			}
			digits++
			end = k + 1
		case c < 0x20 || c == 0x7f:
			// transparent: part of a run only between its digits
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(v[k:])
			if (r != utf8.RuneError || size != 1) && !invisible(r) {
				flush()
			}
			k += size - 1
		default:
			flush()
		}
	}
	flush()
}

// invisible reports whether r is printed as nothing of its own: a control
// or format character, a combining mark, a variation selector or another
// default-ignorable character (the Hangul fillers).
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Mn, unicode.Me, unicode.Variation_Selector,
		unicode.Other_Default_Ignorable_Code_Point)
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
// shape (an admin token's, an imported one) and is long enough to be one,
// until fn returns false: each word, split first at spaces and quotes
// only, then also at every character no Unleash-shaped secret has; the
// word trimmed of punctuation; and the parts on either side of each colon
// ("token:<secret>", "<secret>:"). v is read as printed: characters that
// are not printable ASCII are dropped first (skeleton). It reports false
// when the parts exceed maxLookups (the caller fails closed).
func secretWords(v string, fn func(w string) bool) bool {
	n := 0
	try := func(w string) bool {
		if len(w) < minLookupLen {
			return true
		}
		if n++; n > maxLookups {
			return false
		}
		return fn(w)
	}
	v = skeleton(v)
	seen := map[string]bool{}
	for _, split := range []func(rune) bool{secretSeparator, unleashSeparator} {
		for _, w := range strings.FieldsFunc(v, split) {
			if seen[w] {
				continue
			}
			seen[w] = true
			if !try(w) {
				return n <= maxLookups
			}
			for _, t := range []string{strings.Trim(w, "[](){}<>"), strings.Trim(w, ".:!?-_*[](){}<>")} {
				if t != w && !try(t) {
					return n <= maxLookups
				}
			}
			t := strings.Trim(w, ".:!?-_*[](){}<>")
			for i := 0; i < len(t); i++ {
				if t[i] == ':' && (!try(t[i+1:]) || !try(t[:i])) {
					return n <= maxLookups
				}
			}
		}
	}
	return true
}

// skeleton is v without the characters that are not printable ASCII.
func skeleton(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f {
			return -1
		}
		return r
	}, v)
}

// secretSeparator splits free text into the words a secret may be.
func secretSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(",;\"'`", r)
}

// unleashSeparator also splits at every character that no secret of
// Unleash's shape holds ("ci@<secret>", "<secret>#1", "ci+<secret>").
func unleashSeparator(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-:.*[]", r))
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
	v = s.bodies.cover(v) // a given secret, glued to a word or not
	if s.bodies.contains(skeleton(v)) {
		// A given secret split by a character that is not printable ASCII
		// (a combining mark, a variation selector: auditText keeps them):
		// fail closed, as for a held word found only in the skeleton.
		return "[secret]"
	}
	var held []string
	complete := secretWords(v, func(w string) bool {
		if s.holdsSecret(w) {
			held = append(held, w)
		}
		return true
	})
	if !complete {
		return "[secret]" // too many parts to look up: fail closed
	}
	for _, w := range held {
		if !strings.Contains(v, w) {
			return "[secret]" // found only once invisible characters were dropped
		}
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
// hex digits as long as a secret's (any length of text), or, in text no
// longer than a name may be, a part the token set holds as one. Such text
// goes to the stream, the trail and the readers' feed, and changing it
// silently would surprise its owner. The lookups answer a principal that
// authenticated, within its --mutation-rate, at most 64 parts of a
// 255-character name: they are not paid from the address's budget of
// unknown tokens, which an honest script creating many tokens would drain
// (README Known gaps).
func (s *Server) noSecretIn(_ http.ResponseWriter, _ *http.Request, field, v string) error {
	if hasSecretHex(v) {
		return secretInText(field)
	}
	if utf8.RuneCountInString(v) > commands.MaxNameLen {
		return nil // the command refuses it for its length
	}
	if s.bodies.contains(v) || s.bodies.contains(skeleton(v)) {
		// A given secret, glued to a word or not, split by characters that
		// are not printable ASCII or holding some (a bootstrap secret may).
		return secretInText(field)
	}
	var parts []string
	if !secretWords(v, func(w string) bool { parts = append(parts, w); return true }) {
		return secretInText(field)
	}
	for _, p := range parts {
		if s.holdsSecret(p) {
			return secretInText(field)
		}
	}
	return nil
}

func secretInText(field string) error {
	return badRequest(field, fmt.Sprintf("%q must not hold a token's secret (it is shown to every reader of the audit trail and the feed)", field))
}

// heldPart reports whether v (a request id: letters, digits and "._-"),
// or a part of it before or after one of its punctuation marks, is a
// secret the token set holds ("req-<secret>", "<secret>.1").
func (s *Server) heldPart(v string) bool {
	if s.holdsSecret(v) || s.bodies.contains(v) {
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
func (s *Server) noSecrets(w http.ResponseWriter, r *http.Request, fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if err := s.noSecretIn(w, r, fieldValues[i], fieldValues[i+1]); err != nil {
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

package commands

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"

	"github.com/tokenledger/tokenledger/events"
)

// Secret is a token's full secret string. It is shown once, in the answer to
// the command that created it, and never stored: the ledger keeps only its
// verifier (events.Verifier). A Secret redacts itself when formatted with
// %v/%s, encoded as JSON or logged with slog; Reveal returns the string for
// the single place allowed to show it. Secrets cannot be compared with ==;
// use Equal, which takes constant time.
type Secret struct {
	_ [0]func() // makes == a compile error
	v string
}

// NewSecretFrom wraps an existing secret string (a bootstrap or imported
// token).
func NewSecretFrom(s string) Secret { return Secret{v: s} }

// Reveal returns the secret string. Call it only to hand the secret to its
// owner, once.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether s holds no secret.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal compares two secrets in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(o.v)) == 1
}

// Verifier is the hex SHA-256 stored in place of the secret.
func (s Secret) Verifier() string { return events.VerifierHex(s.v) }

const redacted = "[redacted]"

// String redacts the secret.
func (Secret) String() string { return redacted }

// GoString redacts the secret.
func (Secret) GoString() string { return redacted }

// Format redacts the secret for every verb.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// MarshalJSON redacts the secret.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText redacts the secret.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue redacts the secret in slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Token string shapes (docs/design.md §6). Generated secrets keep Unleash's shape so
// SDKs and Edge accept them: "{projects}:{environment}.{64 hex}" for API
// tokens and "user:{64 hex}" for personal and service-account tokens. The 64
// hex are 56 random hex (28 bytes) followed by the 8-hex CRC32 (IEEE) of
// everything before them, so a typo or a scanner's false positive is told
// apart without a lookup.
const (
	randomBytes = 28
	randomHex   = 2 * randomBytes
	checksumHex = 8
	bodyHex     = randomHex + checksumHex

	// UserPrefix starts every personal and service-account token.
	UserPrefix = "user:"
	// ManyProjects is the project part of a token scoped to several projects.
	ManyProjects = "[]"
	// AllProjects is the project part (and projects entry) meaning every
	// project, current and future.
	AllProjects = events.AllProjects
	// AllEnvironments is the environment of admin tokens.
	AllEnvironments = events.AllEnvironments
)

// GenerateSecret makes a new secret for a token of the given scope. For
// personal and service-account tokens the scope is ignored.
func GenerateSecret(r io.Reader, tokenType string, projects []string, allProjects bool, environment string) (Secret, error) {
	var prefix string
	switch tokenType {
	case events.TokenPersonal, events.TokenServiceAccount:
		prefix = UserPrefix
	default:
		prefix = projectPart(projects, allProjects) + ":" + environment + "."
	}
	var buf [randomBytes]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return Secret{}, fmt.Errorf("generate secret: %w", err)
	}
	head := prefix + hex.EncodeToString(buf[:])
	return Secret{v: fmt.Sprintf("%s%08x", head, crc32.ChecksumIEEE([]byte(head)))}, nil
}

// RandomSecret is GenerateSecret with crypto/rand.
func RandomSecret(tokenType string, projects []string, allProjects bool, environment string) (Secret, error) {
	return GenerateSecret(rand.Reader, tokenType, projects, allProjects, environment)
}

func projectPart(projects []string, all bool) string {
	switch {
	case all:
		return AllProjects
	case len(projects) == 1:
		return projects[0]
	default:
		return ManyProjects
	}
}

// Hint is the display form of a secret: its prefix (scope part) and the last
// four characters of its body, e.g. "default:development.…9f3a". Bodies
// shorter than 16 characters (hand-chosen bootstrap secrets) show no
// characters at all. A hint is safe to list and log.
func Hint(secret string) string {
	prefix, body := "", secret
	if p, err := ParseToken(secret); err == nil {
		body = p.Body
		prefix = secret[:len(secret)-len(body)]
	} else if len(secret) > maxTokenLen {
		body = ""
	}
	if len(body) < 16 {
		return prefix + "…"
	}
	return prefix + "…" + body[len(body)-4:]
}

// ForeignHint is the display form of a secret the ledger did not generate
// (bootstrap and imported secrets): its prefix when it has Unleash's shape,
// which names a scope the token's event records anyway, and none of the
// characters of its body. A hand-chosen body may be short or guessable,
// and the hint is readable by every stream subscriber.
func ForeignHint(secret string) string {
	if p, err := ParseToken(secret); err == nil && p.Shape != ShapeLegacy {
		return secret[:len(secret)-len(p.Body)] + "…"
	}
	return "…"
}

// Token shapes recognised by ParseToken.
const (
	ShapeAPI      = "api"      // {projects}:{environment}.{body}
	ShapePersonal = "personal" // user:{body}
	ShapeLegacy   = "legacy"   // 64 hex, no prefix (Unleash v1 enterprise keys)
)

// ParsedToken is what a token string says about itself. The prefix carries no
// authority: scope always comes from the ledger's record.
type ParsedToken struct {
	Shape       string
	Projects    string // "*", "[]" or one project id (ShapeAPI only)
	Environment string // ShapeAPI only
	Body        string // the part after the prefix
	// Checksummed reports whether Body is 64 hex whose last 8 are the CRC32
	// of everything before them: a token this ledger generated.
	Checksummed bool
}

// ErrMalformedToken is returned by ParseToken for strings that are not a
// token of any accepted shape. Its message never contains the input.
var ErrMalformedToken = errors.New("malformed token")

// maxTokenLen bounds a token string; longer input is rejected unread.
const maxTokenLen = 512

// ParseToken classifies a token string. It accepts generated tokens,
// bootstrap tokens of the API shape with any non-empty body, personal tokens
// and legacy 64-hex keys.
func ParseToken(s string) (ParsedToken, error) {
	if s == "" || len(s) > maxTokenLen {
		return ParsedToken{}, ErrMalformedToken
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return ParsedToken{}, ErrMalformedToken
		}
	}
	if body, ok := strings.CutPrefix(s, UserPrefix); ok {
		if body == "" {
			return ParsedToken{}, ErrMalformedToken
		}
		return ParsedToken{Shape: ShapePersonal, Body: body, Checksummed: checksumOK(s)}, nil
	}
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		if len(s) == 64 && isHex(s) {
			return ParsedToken{Shape: ShapeLegacy, Body: s}, nil
		}
		return ParsedToken{}, ErrMalformedToken
	}
	projects, rest := s[:colon], s[colon+1:]
	dot := strings.IndexByte(rest, '.')
	if projects == "" || dot <= 0 || dot == len(rest)-1 {
		return ParsedToken{}, ErrMalformedToken
	}
	return ParsedToken{
		Shape:       ShapeAPI,
		Projects:    projects,
		Environment: rest[:dot],
		Body:        rest[dot+1:],
		Checksummed: checksumOK(s),
	}, nil
}

// checksumOK reports whether s ends in 64 hex whose last 8 are the CRC32 of
// everything before them.
func checksumOK(s string) bool {
	if len(s) < bodyHex {
		return false
	}
	body := s[len(s)-bodyHex:]
	if !isHex(body) {
		return false
	}
	head := s[:len(s)-checksumHex]
	return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(head))) == s[len(s)-checksumHex:]
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// scanners lends Scanners (and their buffers) to fastHash.
var scanners = sync.Pool{New: func() any { return new(Scanner) }}

// fastHash is the format-2 hash of e (what canonicalJCS hashes) with the
// canonical bytes written straight from its fields, instead of encoding
// the envelope and canonicalising the result. ok is false when e holds
// something only the encoding path can judge (see appendEnvelope); the
// tests hold the two paths to the same bytes.
func (e *Envelope) fastHash() (string, bool) {
	s := scanners.Get().(*Scanner)
	defer scanners.Put(s)
	b, ok := s.appendEnvelope(s.canon[:0], e)
	s.canon = b
	if !ok {
		return "", false
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), true
}

// maxExactInt bounds the integers written as they are: below 2^53 an
// integer's RFC 8785 form (a double's shortest form) is its digits.
const maxExactInt = 1 << 53

// appendEnvelope appends the format-2 canonical bytes of e, without hash
// and sig: the members in RFC 8785 order, omitempty ones left out when
// empty, as the encoding path writes them. It reports false, leaving e to
// the encoding path, for a time not in UTC or outside years 0-9999 (which
// the encoding refuses), an integer outside ±2^53, a Data that is empty
// but not nil, or a Data jsontext does not canonicalise.
func (s *Scanner) appendEnvelope(b []byte, e *Envelope) ([]byte, bool) {
	if e.Format < FormatJCS || abs(e.Format) >= maxExactInt || abs(e.Version) >= maxExactInt {
		return b, false
	}
	if e.Time.Location() != time.UTC || e.Time.Year() < 0 || e.Time.Year() > 9999 {
		return b, false
	}
	b = append(b, `{"actor":{"id":`...)
	b = appendQuoted(b, e.Actor.ID)
	b = append(b, `,"kind":`...)
	b = appendQuoted(b, e.Actor.Kind)
	b = member(b, "name", e.Actor.Name)
	b = append(b, `},"aggregate":`...)
	b = appendQuoted(b, e.AggregateID)
	b = member(b, "command", e.CommandID)
	b = append(b, `,"data":`...)
	var ok bool
	if b, ok = s.appendData(b, e.Data); !ok {
		return b, false
	}
	b = append(b, `,"fmt":`...)
	b = strconv.AppendInt(b, int64(e.Format), 10)
	b = append(b, `,"id":`...)
	b = appendQuoted(b, e.ID)
	b = member(b, "key", e.Key)
	b = append(b, `,"kind":`...)
	b = appendQuoted(b, e.AggregateKind)
	b = member(b, "prev", e.Prev)
	b = member(b, "reason", e.Reason)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":`...)
	b = appendQuoted(b, e.Type)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, `,"via":{`...)
	n := len(b)
	for _, m := range [...]struct{ name, v string }{{"credentialId", e.Via.CredentialID}, {"credentialType", e.Via.CredentialType},
		{"remoteAddr", e.Via.RemoteAddr}, {"requestId", e.Via.RequestID}, {"userAgent", e.Via.UserAgent}} {
		b = member(b, m.name, m.v)
	}
	if len(b) > n {
		// The members were written each with a leading comma.
		copy(b[n:], b[n+1:])
		b = b[:len(b)-1]
	}
	return append(b, `}}`...), true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// member appends ,"name":"v" unless v is empty (an omitempty member).
func member(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendQuoted(b, v)
}

// appendQuoted appends v as an RFC 8785 string. Each byte that is not
// valid UTF-8 becomes U+FFFD, as the encoding path writes it (Go's
// encoder escapes it as \ufffd, which canonicalises to the character).
func appendQuoted(b []byte, v string) []byte {
	plain := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, v...)
		return append(b, '"')
	}
	// AppendQuote's only error is invalid UTF-8, which it has replaced.
	out, _ := jsontext.AppendQuote(b, v)
	return out
}

// appendData appends the canonical form of a payload (null when nil).
func (s *Scanner) appendData(b, data []byte) ([]byte, bool) {
	if data == nil {
		return append(b, "null"...), true
	}
	i := skipSpace(data, 0)
	if i == len(data) {
		return b, false
	}
	if out, end, ok := s.canonValue(b, data, i, 0); ok && skipSpace(data, end) == len(data) {
		return out, true
	}
	t := jsontext.Value(append(s.tmp[:0], data...))
	err := t.Canonicalize()
	s.tmp = t
	if err != nil {
		return b, false
	}
	return append(b, t...), true
}

package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Canonical forms of an envelope (its Format).
const (
	// FormatGo (1, or 0 when absent) is the first canonical form: Go's
	// encoding/json output of the envelope with Hash left out. Events of
	// this form keep verifying forever, but another language cannot
	// reproduce the bytes.
	FormatGo = 1
	// FormatJCS (2) is the canonical form of every event the ledger seals
	// now: the RFC 8785 JSON Canonicalization Scheme of the envelope
	// object as stored, without its "hash" and "sig" members. SHA-256 of
	// those bytes, in lowercase hex, is Hash. Any language with an RFC 8785
	// library reproduces it from the stored JSON.
	FormatJCS = 2
)

// canonicalJCS is the format-2 canonical form: RFC 8785 of the envelope's
// JSON encoding without hash and sig. JCS parses the JSON and writes it
// again, so any encoding of the same values (escapes, member order,
// whitespace, in Data too) gives the same bytes.
func (e *Envelope) canonicalJCS() ([]byte, error) {
	var s Scanner
	if b, ok := s.appendEnvelope(nil, e); ok {
		return b, nil
	}
	return e.encodedJCS()
}

// encodedJCS is canonicalJCS by encoding the envelope and canonicalising
// the result: the definition appendEnvelope is held to, and its fallback.
func (e *Envelope) encodedJCS() ([]byte, error) {
	c := *e
	c.Hash, c.Sig = "", ""
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		return nil, err
	}
	return v, nil
}

// format1EscapedHash is the format-1 hash with every U+FFFD written as the
// escape \ufffd. Go's encoder writes an invalid UTF-8 byte as that escape
// but a real U+FFFD as its UTF-8 bytes, so an honest format-1 event sealed
// with invalid UTF-8 (a User-Agent cut inside a character) re-encodes
// differently once decoded: without this second try its chain read as
// broken. Both encodings decode to the same values.
func (e *Envelope) format1EscapedHash() (string, error) {
	b, err := e.canonical()
	if err != nil {
		return "", err
	}
	if !bytes.Contains(b, []byte("\uFFFD")) {
		return "", nil
	}
	sum := sha256.Sum256(bytes.ReplaceAll(b, []byte("\uFFFD"), []byte(`\ufffd`)))
	return hex.EncodeToString(sum[:]), nil
}

// Clean makes every string of the envelope valid UTF-8 (each invalid byte
// becomes U+FFFD), Data included, so that the values the ledger holds in
// memory are the values a reader of the stored event decodes. [Envelope.Seal]
// calls it; callers that take strings from clients cut them to length
// first, with [CleanText].
func (e *Envelope) Clean() {
	for _, p := range []*string{&e.ID, &e.Type, &e.AggregateKind, &e.AggregateID, &e.CommandID,
		&e.Actor.Kind, &e.Actor.ID, &e.Actor.Name,
		&e.Via.CredentialID, &e.Via.CredentialType, &e.Via.RemoteAddr, &e.Via.UserAgent, &e.Via.RequestID,
		&e.Reason, &e.Prev} {
		if !utf8.ValidString(*p) {
			*p = strings.ToValidUTF8(*p, "\uFFFD")
		}
	}
	if !utf8.Valid(e.Data) {
		// Invalid bytes can only stand inside JSON strings.
		e.Data = bytes.ToValidUTF8(e.Data, []byte("\uFFFD"))
		e.payload = nil
	}
}

// CleanText returns v as valid UTF-8 (invalid bytes become U+FFFD) of at
// most max bytes, cut at a character boundary: the form of a client's
// string (a header, a name) before it enters an event.
func CleanText(v string, max int) string {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if len(v) <= max {
		return v
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut]
}

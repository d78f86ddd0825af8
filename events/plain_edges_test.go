package events

import (
	"reflect"
	"strings"
	"testing"

	fastjson "github.com/goccy/go-json"
)

// An attacker who can write the stream (or the data dir) chooses the
// bytes the one-pass readers see. Whatever form a member takes, the
// readers take it only when the JSON decoder reads it to the same value,
// and leave every other form to the decoder: a record never reads one way
// in the replay (UnmarshalDeferred) and another in verify and the
// commands (Unmarshal). The cases are the forms where JSON decoders
// commonly part ways; plain says whether the one-pass reader takes the
// form (false: the decoder judges it, accepting or refusing).
func TestPlainEnvelopeAgreesWithTheDecoderOnEdgeForms(t *testing.T) {
	t.Parallel()
	base := string(storedTokenEvent(t))
	cases := []struct {
		name, from, to string
		plain          bool
	}{
		{"a line separator in a string", `"name":"ada@example.com"`, "\"name\":\"ada\u2028@example.com\"", true},
		{"a character outside the BMP", `"reason":"a reason"`, `"reason":"a 😀 reason"`, true},
		{"a DEL byte", `"reason":"a reason"`, "\"reason\":\"a\x7freason\"", true},
		{"an empty omitempty string", `"reason":"a reason"`, `"reason":""`, true},
		{"spaces around values", `"v":1,"kind":"token",`, "\"v\": \t1 ,\n\"kind\":\r\"token\" , ", true},
		{"a time with an offset", `"2026-12-06T10:00:00Z"`, `"2026-12-06T11:00:00+01:00"`, true},
		{"a time with nanoseconds", `"2026-12-06T10:00:00Z"`, `"2026-12-06T10:00:00.000000001Z"`, true},
		{"a year before 1000", `"2026-12-06T10:00:00Z"`, `"0999-12-06T10:00:00Z"`, true},
		{"the year 0", `"2026-12-06T10:00:00Z"`, `"0000-01-01T00:00:00Z"`, true},
		// The time package's RFC 3339 parsing is lax (go.dev/issue/54580),
		// and so is the decoder's as encoding/json's (ParseTimeWithLooseRFC3339).
		{"an offset of 24 hours", `"2026-12-06T10:00:00Z"`, `"2026-12-06T10:00:00+24:00"`, true},
		{"an offset of 60 minutes", `"2026-12-06T10:00:00Z"`, `"2026-12-06T10:00:00-23:60"`, true},
		{"a one-digit hour", `"2026-12-06T10:00:00Z"`, `"2026-12-06T1:00:00Z"`, true},
		{"a comma before the fraction", `"2026-12-06T10:00:00Z"`, `"2026-12-06T10:00:00,5Z"`, true},
		{"format and version 0", `"fmt":2,`, `"fmt":0,`, true},
		{"a payload of every number form", `"data":{"reason":"deleted"}`, `"data":{"reason":"deleted","n":[-0,1e0,1E+400,-1.5e-3,123456789012345678901234567890]}`, true},
		{"a payload nested 32 deep", `"data":{"reason":"deleted"}`, `"data":{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`, true},
		{"a payload string of invalid UTF-8", `"data":{"reason":"deleted"}`, "\"data\":{\"reason\":\"del\xffeted\"}", true},
		{"a payload string with a lone surrogate escape", `"data":{"reason":"deleted"}`, `"data":{"reason":"\ud800"}`, true},
		{"a payload with a duplicate member", `"data":{"reason":"deleted"}`, `"data":{"reason":"deleted","reason":"rotated"}`, true},
		{"a payload member in another case", `"data":{"reason":"deleted"}`, `"data":{"Reason":"rotated","reason":"deleted"}`, true},

		{"a leap second", `"2026-12-06T10:00:00Z"`, `"2026-12-06T23:59:60Z"`, false},
		{"hour 24", `"2026-12-06T10:00:00Z"`, `"2026-12-06T24:00:00Z"`, false},
		{"a lower-case z", `"2026-12-06T10:00:00Z"`, `"2026-12-06T10:00:00z"`, false},
		{"a five-digit year", `"2026-12-06T10:00:00Z"`, `"12026-12-06T10:00:00Z"`, false},
		{"a time with an escape", `"2026-12-06T10:00:00Z"`, `"2026-12-06T10:00:00\u005a"`, false},
		{"a null time", `"2026-12-06T10:00:00Z"`, `null`, false},
		{"a negative zero version", `"v":1`, `"v":-0`, false},
		{"a version with an exponent", `"v":1`, `"v":1e0`, false},
		{"a version of 16 digits", `"v":1`, `"v":1000000000000001`, false},
		{"a null string", `"reason":"a reason"`, `"reason":null`, false},
		{"a null actor", `"actor":{`, `"actor":null,"x":{`, false},
		{"an escaped key", `"reason":`, `"\u0072eason":`, false},
		{"a key in another case", `"reason":`, `"Reason":`, false},
		{"an actor key in another case", `"name":"ada@example.com"`, `"Name":"ada@example.com"`, false},
		{"a duplicate member in another case", `"reason":"a reason",`, `"reason":"a reason","REASON":"b",`, false},
		{"a duplicate actor member", `"name":"ada@example.com"`, `"name":"ada@example.com","name":"eve"`, false},
		{"an escape in a string", `"reason":"a reason"`, `"reason":"a\u0020reason"`, false},
		{"invalid UTF-8 in a string", `"reason":"a reason"`, "\"reason\":\"a\xc3reason\"", false},
		{"an encoded surrogate in a string", `"reason":"a reason"`, "\"reason\":\"a\xed\xa0\x80reason\"", false},
		{"a payload nested 33 deep", `"data":{"reason":"deleted"}`, `"data":{"a":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`, false},
		{"a payload array", `"data":{"reason":"deleted"}`, `"data":["deleted"]`, false},
		{"a payload cut inside an escape", `"data":{"reason":"deleted"}`, `"data":{"reason":"\u00"}`, false},
		{"a payload number cut after its sign", `"data":{"reason":"deleted"}`, `"data":{"reason":-}`, false},
		{"a byte-order mark", `{"fmt"`, "\ufeff{\"fmt\"", false},
		{"a NUL after the object", `"}`, "\"}\x00", false},
		{"a second object after the first", `"}`, `"}{}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(strings.Replace(base, c.from, c.to, 1))
			if string(b) == base {
				t.Fatalf("%q is not in the record", c.from)
			}
			var e Envelope
			if got := plainEnvelope(b, &e); got != c.plain {
				t.Errorf("plainEnvelope took it: %v, want %v", got, c.plain)
			}
			agreeOnEnvelope(t, b)
		})
	}
	// Every record cut short, and every byte of it changed to or preceded
	// by one of the bytes that part JSON decoders.
	eachEdit(base, func(b []byte) { agreeOnEnvelope(t, b) })
}

// The token.created payload read in one pass (plainTokenCreated) agrees
// with the JSON decoder on the forms where decoders part ways, as the
// envelope does.
func TestPlainTokenCreatedAgreesWithTheDecoderOnEdgeForms(t *testing.T) {
	t.Parallel()
	base := string(tokenCreatedData(t))
	cases := []struct {
		name, from, to string
		plain          bool
	}{
		{"an empty owner", `"environment":`, `"owner":{},"environment":`, true},
		{"an owner without an id", `"environment":`, `"owner":{"kind":"user"},"environment":`, true},
		{"sixteen projects", `["default","checkout"]`, `["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p"]`, true},
		{"an empty project name", `["default","checkout"]`, `[""]`, true},
		{"a line separator in a name", `"checkout-service"`, "\"checkout\u2028service\"", true},
		{"allProjects written false", `"expiresAt":`, `"allProjects":false,"expiresAt":`, true},
		{"an expiry with an offset", `"2031-01-02T03:04:05Z"`, `"2031-01-02T04:04:05+01:00"`, true},
		{"an expiry in year 0", `"2031-01-02T03:04:05Z"`, `"0000-01-01T00:00:00Z"`, true},
		{"an expiry with an offset of 24 hours", `"2031-01-02T03:04:05Z"`, `"2031-01-02T03:04:05+24:00"`, true},
		{"an expiry with a one-digit hour", `"2031-01-02T03:04:05Z"`, `"2031-01-02T3:04:05Z"`, true},
		{"an expiry with a comma before the fraction", `"2031-01-02T03:04:05Z"`, `"2031-01-02T03:04:05,5Z"`, true},

		{"an empty project list", `["default","checkout"]`, `[]`, false},
		{"seventeen projects", `["default","checkout"]`, `["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`, false},
		{"a null project", `["default","checkout"]`, `["default",null]`, false},
		{"a null owner", `"environment":`, `"owner":null,"environment":`, false},
		{"an owner key in another case", `"environment":`, `"owner":{"Kind":"user"},"environment":`, false},
		{"a null expiry", `"2031-01-02T03:04:05Z"`, `null`, false},
		{"an empty expiry", `"2031-01-02T03:04:05Z"`, `""`, false},
		{"an expiry on a leap second", `"2031-01-02T03:04:05Z"`, `"2031-01-02T23:59:60Z"`, false},
		{"an expiry at hour 24", `"2031-01-02T03:04:05Z"`, `"2031-01-02T24:00:00Z"`, false},
		{"an expiry with a lower-case z", `"2031-01-02T03:04:05Z"`, `"2031-01-02T03:04:05z"`, false},
		{"an escaped name", `"checkout-service"`, `"checkout\u002dservice"`, false},
		{"a name key in another case", `"name":`, `"Name":`, false},
		{"a name twice", `"environment":`, `"name":"admin","environment":`, false},
		{"a name twice in another case", `"environment":`, `"NAME":"admin","environment":`, false},
		{"a flag as a number", `"path":`, `"allProjects":1,"path":`, false},
		{"a flag as a string", `"path":`, `"allProjects":"true","path":`, false},
		{"a flag cut short", `"path":"admin-api",`, `"path":"admin-api","onBehalfOf":tru,`, false},
		{"invalid UTF-8 in the hint", `1a2b`, "1a\xffb", false},
		{"a byte-order mark", `{"tokenType"`, "\ufeff{\"tokenType\"", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(strings.Replace(base, c.from, c.to, 1))
			if string(b) == base {
				t.Fatalf("%q is not in the payload", c.from)
			}
			if _, got := plainTokenCreated(b); got != c.plain {
				t.Errorf("plainTokenCreated took it: %v, want %v", got, c.plain)
			}
			agreeOnTokenCreated(t, b)
		})
	}
	eachEdit(base, func(b []byte) { agreeOnTokenCreated(t, b) })
}

// agreeOnEnvelope fails t when b is taken by plainEnvelope and the JSON
// decoder refuses it or reads another envelope, or when the replay's
// decode (UnmarshalDeferred, DecodePayload) and Unmarshal part.
func agreeOnEnvelope(t *testing.T, b []byte) {
	t.Helper()
	var plain, decoded Envelope
	if plainEnvelope(b, &plain) {
		if err := decodeDeferred(b, &decoded); err != nil {
			t.Fatalf("the plain read takes %q, the decoder refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(plain, decoded) {
			t.Fatalf("%q: plain read %+v, decoder %+v", b, plain, decoded)
		}
	}
	want, werr := Unmarshal(b)
	got, gerr := UnmarshalDeferred(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: Unmarshal: %v; UnmarshalDeferred: %v", b, werr, gerr)
	}
	if werr != nil {
		return
	}
	got.DecodePayload()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: UnmarshalDeferred %+v, Unmarshal %+v", b, got, want)
	}
}

// agreeOnTokenCreated fails t when b is taken by plainTokenCreated and
// the JSON decoder refuses it or reads another payload.
func agreeOnTokenCreated(t *testing.T, b []byte) {
	t.Helper()
	got, ok := plainTokenCreated(b)
	if !ok {
		return
	}
	var want TokenCreated
	if err := fastjson.UnmarshalOf(b, &want); err != nil {
		t.Fatalf("the plain read takes %q, the decoder refuses it: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: plain read %+v, decoder %+v", b, got, want)
	}
}

// editBytes are the bytes that part JSON decoders: whitespace, control
// characters, structure, escapes, the starts of numbers and literals,
// letters of another case, and the first bytes of non-ASCII and invalid
// UTF-8 (a lone continuation byte, a cut sequence, U+2028, a BOM).
var editBytes = []string{" ", "\t", "\n", "\x00", "\x1f", "\x7f", "\"", "\\", "\\u", ",", ":", "{", "}", "[", "]",
	"0", "-", "e", ".", "t", "n", "Z", "z", "A", "\x80", "\xc3", "\xe2\x80\xa8", "\xef\xbb\xbf"}

// eachEdit calls f with s cut short at every length, and with each of its
// bytes replaced by, and preceded by, each of editBytes.
func eachEdit(s string, f func([]byte)) {
	for i := 0; i <= len(s); i++ {
		f([]byte(s[:i]))
		for _, x := range editBytes {
			f([]byte(s[:i] + x + s[i:]))
			if i < len(s) {
				f([]byte(s[:i] + x + s[i+1:]))
			}
		}
	}
}

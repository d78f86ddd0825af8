package events

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fieldsDisagree returns why the canonical bytes written from e's fields
// differ from those of encoding e and canonicalising the result, or ""
// when they agree (or appendEnvelope leaves e to the encoding path).
func fieldsDisagree(e *Envelope) string {
	var s Scanner
	got, ok := s.appendEnvelope(nil, e)
	if !ok {
		return ""
	}
	want, err := e.encodedJCS()
	if err != nil {
		return "written from the fields, but the encoding path fails: " + err.Error()
	}
	if !bytes.Equal(got, want) {
		return "from the fields:\n" + string(got) + "\nencoded:\n" + string(want)
	}
	return ""
}

// The golden files' events, decoded, give the same canonical bytes from
// their fields as through the encoder.
func TestCanonicalFromFieldsMatchesEncodingOnGoldenFiles(t *testing.T) {
	for name, b := range goldenFiles(t) {
		e, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		e.Format = FormatJCS // the format-1 ones too, as if sealed now
		var s Scanner
		if _, ok := s.appendEnvelope(nil, &e); !ok {
			t.Errorf("%s: left to the encoding path", name)
		}
		if why := fieldsDisagree(&e); why != "" {
			t.Errorf("%s: %s", name, why)
		}
	}
}

// FuzzCanonicalFromFields: whatever strings, payload, version and time an
// envelope holds, the canonical bytes written from its fields are those
// of the encoding path; and whatever bytes the stream holds, the event
// they decode to too.
func FuzzCanonicalFromFields(f *testing.F) {
	g := scanGolden(f)
	f.Add("01JD", "alice", "curl/8", "rotation", []byte(`{"a":1}`), 1, int64(0), []byte(g))
	f.Add("\xff\xfe", "a\u2028b\"\\", "\x01\x1f\x7f", "é😀\ufffd", []byte(` {"b":[1,2.5e3,-0,"\u00e9"],"a":null} `), -3, int64(-62135596800000000), []byte(`{}`))
	f.Add("", "", strings.Repeat("x", 300), "", []byte(nil), 1<<53, int64(1)<<62, []byte(strings.Replace(g, `"v":1`, `"v":1e0`, 1)))
	f.Fuzz(func(t *testing.T, id, name, ua, reason string, data []byte, v int, nanos int64, stored []byte) {
		e := Envelope{Format: FormatJCS, ID: id, Type: "token.created", Version: v, AggregateKind: name, AggregateID: id,
			Time: time.Unix(0, nanos).UTC(), CommandID: reason, Actor: Actor{Kind: ua, ID: name, Name: reason},
			Via: Via{UserAgent: ua, RequestID: id, CredentialType: name}, Reason: reason, Data: data, Prev: ua, Key: name}
		if why := fieldsDisagree(&e); why != "" {
			t.Fatal(why)
		}
		if d, err := Unmarshal(stored); err == nil && d.Format >= FormatJCS {
			if why := fieldsDisagree(&d); why != "" {
				t.Fatal(why)
			}
		}
	})
}

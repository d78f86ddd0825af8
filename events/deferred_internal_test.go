package events

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// The strings a projection may keep (an id in an index, an actor's name)
// must not keep the whole stored message alive: UnmarshalDeferred copies
// them, or gives the package's constant; only the fields that identify
// or seal the event, and the payload (Data, which a projection that keeps
// it must copy), refer to the stored bytes.
func TestUnmarshalDeferredCopiesTheStringsProjectionsKeep(t *testing.T) {
	b := storedTokenEvent(t)
	got, err := UnmarshalDeferred(b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	got.DecodePayload()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UnmarshalDeferred:\n%+v\nUnmarshal:\n%+v", got, want)
	}
	inB := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return len(s) > 0 && base <= p && p < base+uintptr(len(b))
	}
	for name, s := range map[string]string{
		"AggregateID": got.AggregateID, "Type": got.Type, "AggregateKind": got.AggregateKind,
		"Actor.Kind": got.Actor.Kind, "Actor.ID": got.Actor.ID, "Actor.Name": got.Actor.Name,
		"Via.CredentialID": got.Via.CredentialID, "Via.CredentialType": got.Via.CredentialType, "Reason": got.Reason,
	} {
		if inB(s) {
			t.Errorf("%s refers to the stored bytes", name)
		}
	}
	for name, s := range map[string]string{"ID": got.ID, "Hash": got.Hash, "Prev": got.Prev, "Data": unsafe.String(unsafe.SliceData(got.Data), len(got.Data))} {
		if len(s) > 0 && !inB(s) {
			t.Errorf("%s is a copy (the replay decodes it without one)", name)
		}
	}
}

// storedTokenEvent is a sealed token event with every field a request
// fills, as the stream stores it.
func storedTokenEvent(tb testing.TB) []byte {
	tb.Helper()
	e, err := New("01J0000000000000000000000X", "0d6b1b8e-4c1f-4b7e-9a43-2f7e0e9c5a11",
		TokenRevoked{Reason: ReasonDeleted}, time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	e.CommandID, e.Reason = "2b7e0e9c-5a11-4c1f-9a43-0d6b1b8e4b7e", "a reason"
	e.Actor = Actor{Kind: ActorUser, ID: "5a110d6b-1b8e-4c1f-4b7e-9a432f7e0e9c", Name: "ada@example.com"}
	e.Via = Via{CredentialID: "9a432f7e-0e9c-5a11-0d6b-1b8e4c1f4b7e", CredentialType: TokenAdmin,
		RemoteAddr: "127.0.0.1:51234", UserAgent: "curl/8.5.0", RequestID: "01J00000000000000000000RQ1"}
	e.Prev = "3f1c0e7a9b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"
	if err := e.Seal(); err != nil {
		tb.Fatal(err)
	}
	b, err := Marshal(&e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The replay's envelope decode reads the ledger's own records in one pass
// (plainEnvelope) and leaves every other form to the JSON decoder: each
// golden record and a record with every field a request fills take the
// plain path and decode to what the decoder gives; the forms it must not
// take go to the decoder, which judges them.
func TestPlainEnvelopeTakesTheLedgersRecordsAndNoOtherForm(t *testing.T) {
	records := map[string][]byte{"every field": storedTokenEvent(t)}
	for name, b := range goldenFiles(t) {
		records[name] = b
	}
	for name, b := range records {
		var plain, decoded Envelope
		if !plainEnvelope(b, &plain) {
			t.Errorf("%s: not read in the plain form", name)
			continue
		}
		if err := decodeDeferred(b, &decoded); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(plain, decoded) {
			t.Errorf("%s: the plain read differs from the decoder's:\n%+v\n%+v", name, plain, decoded)
		}
	}
	ok := `{"fmt":2,"id":"i","type":"token.revoked","v":1,"kind":"token","aggregate":"a","time":"2026-12-06T10:00:00Z","actor":{"kind":"user","id":"u"},"via":{},"data":{"reason":"x"}}`
	for _, c := range []struct{ name, from, to string }{
		{"an escape in a string", `"aggregate":"a"`, `"aggregate":"\u0061"`},
		{"an escape in an actor's string", `"id":"u"`, `"id":"\u0075"`},
		{"invalid UTF-8", `"aggregate":"a"`, "\"aggregate\":\"a\xff\""},
		{"a member in another case", `"aggregate":`, `"Aggregate":`},
		{"an unknown member", `"v":1,`, `"v":1,"x":1,`},
		{"a member twice", `"v":1,`, `"v":1,"v":1,`},
		{"members out of the write order", `"type":"token.revoked","v":1,`, `"v":1,"type":"token.revoked",`},
		{"a space before a colon", `"v":1`, `"v" :1`},
		{"a number not in its shortest form", `"v":1`, `"v":01`},
		{"a negative number", `"v":1`, `"v":-1`},
		{"a fraction", `"v":1`, `"v":1.0`},
		{"null", `"via":{}`, `"via":null`},
		{"an empty time", `"time":"2026-12-06T10:00:00Z"`, `"time":""`},
		{"a time the decoder refuses", `"time":"2026-12-06T10:00:00Z"`, `"time":"2026-13-06T10:00:00Z"`},
		{"a payload that is not an object", `"data":{"reason":"x"}`, `"data":"x"`},
		{"a payload that is not JSON", `"data":{"reason":"x"}`, `"data":{"reason":x}`},
		{"a payload number that is not JSON", `"data":{"reason":"x"}`, `"data":{"reason":1.}`},
		{"a payload escape that is not JSON", `"data":{"reason":"x"}`, `"data":{"reason":"\x"}`},
		{"bytes after the object", `}}`, `}} x`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(strings.Replace(ok, c.from, c.to, 1))
			if string(b) == ok {
				t.Fatalf("%q is not in the record", c.from)
			}
			var e Envelope
			if plainEnvelope(b, &e) {
				t.Errorf("read in the plain form: %s", b)
			}
		})
	}
	var e Envelope
	if !plainEnvelope([]byte(ok), &e) {
		t.Fatalf("the record the cases change is not read in the plain form: %s", ok)
	}
}

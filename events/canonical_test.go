package events_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/quick"

	"github.com/gowebpki/jcs"
	"github.com/tokenledger/tokenledger/events"
)

// clientEnvelope is an event carrying every string a request can put into
// one: the actor's name, the credential's user agent, request id and
// remote address, the reason, and payload fields (a token's name, a role's
// description and name), each as sent.
func clientEnvelope(t testing.TB, name, ua, reqID, reason string) events.Envelope {
	t.Helper()
	p := events.RoleCreated{Name: name, Type: events.RoleTypeRoot, Description: reason + name, Permissions: []string{ua}}
	e, err := events.New("01JD0000000000000000000000", "r-1", p, t0)
	if err != nil {
		t.Fatal(err)
	}
	e.CommandID = reqID
	e.Actor = events.Actor{Kind: events.ActorUser, ID: "7", Name: name}
	e.Via = events.Via{CredentialID: "c-1", CredentialType: events.TokenPersonal, RemoteAddr: reqID,
		UserAgent: events.CleanText(ua, 256), RequestID: reqID}
	e.Reason = reason
	return e
}

// sealRoundTrips seals e and checks what a reader of the stream sees: the
// stored bytes decode to an event whose hash verifies, re-encoding the
// decoded event gives the same hash, and the hash is SHA-256 of RFC 8785
// over the stored object without hash and sig (what an auditor computes
// in any language).
func sealRoundTrips(e events.Envelope) string {
	if err := e.Seal(); err != nil {
		return "seal: " + err.Error()
	}
	stored, err := events.Marshal(&e)
	if err != nil {
		return "marshal: " + err.Error()
	}
	d, err := events.Unmarshal(stored)
	if err != nil {
		return "unmarshal: " + err.Error()
	}
	if err := d.CheckHash(); err != nil {
		return "decoded event: " + err.Error()
	}
	again, err := events.Marshal(&d)
	if err != nil {
		return "re-marshal: " + err.Error()
	}
	d2, err := events.Unmarshal(again)
	if err != nil {
		return "re-unmarshal: " + err.Error()
	}
	if err := d2.CheckHash(); err != nil || d2.Hash != e.Hash {
		return "re-encoded event changed its hash"
	}
	if d.Actor != e.Actor || d.Via != e.Via || d.Reason != e.Reason || d.CommandID != e.CommandID {
		return "the decoded event holds other values than the sealed one"
	}
	var obj map[string]any
	if err := json.Unmarshal(stored, &obj); err != nil {
		return "stored bytes: " + err.Error()
	}
	delete(obj, "hash")
	delete(obj, "sig")
	generic, _ := json.Marshal(obj)
	canon, err := jcs.Transform(generic)
	if err != nil {
		return "jcs: " + err.Error()
	}
	sum := sha256.Sum256(canon)
	if hex.EncodeToString(sum[:]) != e.Hash {
		return "the hash is not SHA-256 of RFC 8785 of the stored object"
	}
	return ""
}

// TestSealedEventsRoundTripForAnyClientInput is the property: whatever
// bytes a client sends (invalid UTF-8, control characters, escapes, any
// length), the sealed event decodes and re-encodes to the same hash.
func TestSealedEventsRoundTripForAnyClientInput(t *testing.T) {
	prop := func(name, ua, reqID, reason []byte) bool {
		msg := sealRoundTrips(clientEnvelope(t, string(name), string(ua), string(reqID), string(reason)))
		if msg != "" {
			t.Logf("%q %q %q %q: %s", name, ua, reqID, reason, msg)
		}
		return msg == ""
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
	// And the inputs that raised false alarms, with quick's random runes.
	for _, s := range []string{"\xff", "a\xe2\x82", strings.Repeat("é", 200), "\u2028\u2029", "<&>", "\x00\x1f\x7f",
		"\\u0000", `"quoted"`, "\uFFFD", "\uFFFD\xff", "𝄞", "1e400", ""} {
		if msg := sealRoundTrips(clientEnvelope(t, s, s, s, s)); msg != "" {
			t.Errorf("%q: %s", s, msg)
		}
	}
	if err := quick.Check(func(name, ua string) bool {
		return sealRoundTrips(clientEnvelope(t, name, ua, name, ua)) == ""
	}, &quick.Config{MaxCount: 1000}); err != nil {
		t.Fatal(err)
	}
}

// FuzzSealRoundTrip is the same property for the fuzzer (go test -fuzz).
func FuzzSealRoundTrip(f *testing.F) {
	f.Add("alice", "curl/8", "req-1", "rotation")
	f.Add("\xff", "a\xe2\x82", "\u2028", "\uFFFD\xff")
	f.Fuzz(func(t *testing.T, name, ua, reqID, reason string) {
		if msg := sealRoundTrips(clientEnvelope(t, name, ua, reqID, reason)); msg != "" {
			t.Fatal(msg)
		}
	})
}

// An honest format-1 event whose User-Agent held invalid UTF-8 (e.g. cut
// at 256 bytes inside a character) was stored with \ufffd escapes, and
// decoded it re-encodes as U+FFFD bytes: its history read intact:false.
// It verifies now, and a real edit of it still does not.
func TestFormat1EventWithInvalidUTF8StillVerifies(t *testing.T) {
	for _, ua := range []string{"Mozilla/5.0 \xe2\x82", "\xff\xfe", "ok \uFFFD and \xff"} {
		e := clientEnvelope(t, "alice", "", "req-1", "")
		e.Via.UserAgent = ua // as the old handlers stored it, uncleaned
		stored := format1Sealed(t, e)
		d, err := events.Unmarshal(stored)
		if err != nil {
			t.Fatal(err)
		}
		if d.Format != 0 {
			t.Fatalf("format-1 event decoded with format %d", d.Format)
		}
		if err := d.CheckHash(); err != nil && !strings.Contains(ua, "\uFFFD") {
			t.Errorf("%q: honest format-1 event fails: %v", ua, err)
		}
		d.Via.RequestID = "req-2"
		if err := d.CheckHash(); err == nil {
			t.Errorf("%q: an edited format-1 event verifies", ua)
		}
	}
}

// format1Sealed is what the format-1 code stored: Go's encoding of the
// envelope with the hash over it without "hash".
func format1Sealed(t *testing.T, e events.Envelope) []byte {
	t.Helper()
	enc := func(e events.Envelope) []byte {
		var buf bytes.Buffer
		je := json.NewEncoder(&buf)
		je.SetEscapeHTML(false)
		if err := je.Encode(&e); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	}
	e.Hash = ""
	sum := sha256.Sum256(enc(e))
	e.Hash = hex.EncodeToString(sum[:])
	return enc(e)
}

// The format-2 golden files hash to SHA-256 of RFC 8785 of their stored
// object without hash and sig, computed without the events package.
func TestGoldenFormat2IsJCSOfTheStoredObject(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.fmt2.golden.json")
	if len(files) == 0 {
		t.Fatal("no format-2 golden files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		want := obj["hash"]
		delete(obj, "hash")
		delete(obj, "sig")
		generic, _ := json.Marshal(obj)
		canon, err := jcs.Transform(generic)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(canon)
		if obj["fmt"] != float64(2) || hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s: not a format-2 event hashed over RFC 8785", f)
		}
	}
}

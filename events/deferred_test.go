package events_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// A replay decodes an envelope and its payload on two goroutines
// (UnmarshalDeferred, then DecodePayload): whatever the stored bytes, the
// two steps accept, refuse and decode exactly what Unmarshal does, a
// payload this build cannot decode included.
func FuzzUnmarshalDeferredIsUnmarshal(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":1,"data":{"reason":"r"}}`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":1,"data":{"reason":7}}`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":99,"data":{}}`))
	f.Add([]byte(`{"type":"no.such","kind":"token","aggregate":"a","v":1,"data":{}}`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","data":{}}`))
	f.Add([]byte(`{"type":`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":1,"data":null}`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":1,"data":{"reason":"x"},"DATA":{"reason":"y"}}`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a\u0041","v":1,"actor":{"kind":"user","id":"u\n"},"data":{"reason":"x"}}`))
	f.Add([]byte(`{"type":"token.revoked","kind":"token","aggregate":"a","v":1,"data":"x","hash":"h","prev":"p"}`))
	// The plain form's edges (plainEnvelope): spaces, members out of the
	// write order, non-ASCII, escapes, and payloads of every JSON kind.
	f.Add([]byte(` { "fmt" : 2 , "type":"token.revoked","v":1,"kind":"token","aggregate":"a","data":{"reason":"x"} } `))
	f.Add([]byte(`{"fmt":2,"type":"token.revoked","v":1,"kind":"token","aggregate":"a","data":{"reason":"x"},"fmt":1}`))
	f.Add([]byte(`{"type":"token.revoked","fmt":2,"v":1,"kind":"token","aggregate":"a","data":{"reason":"x"}}`))
	f.Add([]byte(`{"fmt":2,"type":"token.revoked","v":1,"kind":"token","aggregate":"\u00e9\/","actor":{"name":"é","kind":"user","id":"u"},"data":{"reason":"x"}}`))
	f.Add([]byte("{\"fmt\":2,\"type\":\"token.revoked\",\"v\":1,\"kind\":\"token\",\"aggregate\":\"a\xff\",\"data\":{\"reason\":\"x\"}}"))
	f.Add([]byte(`{"fmt":2,"type":"token.revoked","v":01,"kind":"token","aggregate":"a","time":"2026-12-06T10:00:00+01:00","via":{},"data":{"a":[1,-0.5e+3,true,false,null,{"b":"\ud800"}],"c":{}}}`))
	f.Add([]byte(`{"fmt":2,"type":"token.revoked","v":1,"kind":"token","aggregate":"a","data":{"a":tru}}`))
	f.Add([]byte(`{"fmt":2,"type":"token.revoked","v":1,"kind":"token","aggregate":"a","data":{"a":1.}}`))
	f.Add([]byte(`{"fmt":2,"type":"token.revoked","v":1,"kind":"token","aggregate":"a","time":"","data":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := events.Unmarshal(b)
		got, gerr := events.UnmarshalDeferred(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Unmarshal: %v; UnmarshalDeferred: %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		before := got
		got.DecodePayload()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after DecodePayload the envelope differs from Unmarshal's:\n%+v\n%+v", got, want)
		}
		p1, e1 := before.Payload() // decoded on demand, as before
		p2, e2 := want.Payload()
		if (e1 == nil) != (e2 == nil) || !reflect.DeepEqual(p1, p2) {
			t.Fatalf("Payload: %v, %v; Unmarshal's: %v, %v", p1, e1, p2, e2)
		}
		got.DecodePayload() // a second call changes nothing
		if !reflect.DeepEqual(got, want) {
			t.Fatal("a second DecodePayload changed the envelope")
		}
	})
}

// addGoldenSeeds adds every golden event file's bytes to f's corpus.
func addGoldenSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.golden.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

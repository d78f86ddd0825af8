package events

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	fastjson "github.com/goccy/go-json"
)

// A token.created payload the ledger writes is read in one pass
// (plainTokenCreated); whatever the bytes, what that read accepts the
// JSON decoder accepts and decodes to the same value.
func FuzzPlainTokenCreatedIsTheDecoders(f *testing.F) {
	exp := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, c := range []TokenCreated{
		{TokenType: TokenClient, Name: "checkout", Environment: "production", Projects: []string{"default", "checkout"},
			ExpiresAt: &exp, Path: PathAdminAPI, Verifier: VerifierHex("x"), Hint: "default:production.1a2b…9f0e"},
		{TokenType: TokenPersonal, Name: "mine", Owner: &Owner{Kind: ActorUser, ID: "7"}, Environment: "*", AllProjects: true,
			Path: "personal", Verifier: VerifierHex("y"), Hint: "user:…", OnBehalfOf: true},
		{},
	} {
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"tokenType":"client","projects":[],"owner":{}}`))
	f.Add([]byte(`{"tokenType":"client","projects":["a","a\u0041"],"owner":null}`))
	f.Add([]byte(`{"tokenType":"client","expiresAt":null,"allProjects":tru}`))
	f.Add([]byte(` {"name" : "x", "hint":"\xff"} `))
	f.Add([]byte(`{"name":"x","name":"y"}`))
	f.Add([]byte(`{"name":"x","tokenType":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := plainTokenCreated(b)
		if !ok {
			return
		}
		var want TokenCreated
		if err := fastjson.UnmarshalOf(b, &want); err != nil {
			t.Fatalf("the plain read took %q, the decoder refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: plain read %+v, decoder %+v", b, got, want)
		}
	})
}

// Each token.created the golden files hold, and the benchmark's, takes
// the one-pass read.
func TestPlainTokenCreatedTakesTheLedgersPayloads(t *testing.T) {
	for name, b := range goldenFiles(t) {
		e, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != TypeTokenCreated {
			continue
		}
		if _, ok := plainTokenCreated(e.Data); !ok {
			t.Errorf("%s: payload %s not read in the plain form", name, e.Data)
		}
	}
	if _, ok := plainTokenCreated(tokenCreatedData(t)); !ok {
		t.Errorf("payload %s not read in the plain form", tokenCreatedData(t))
	}
}

// tokenCreatedData is a token.created payload with every field a request
// fills, as the ledger stores it.
func tokenCreatedData(tb testing.TB) []byte {
	exp := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := json.Marshal(TokenCreated{TokenType: TokenClient, Name: "checkout-service", Environment: "production",
		Projects: []string{"default", "checkout"}, ExpiresAt: &exp, Path: PathAdminAPI,
		Verifier: VerifierHex("a secret"), Hint: "default:production.1a2b…9f0e"})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The payload decode of the most frequent event, in one pass beside the
// JSON decoder:
//
//	go test -run '^$' -bench '^BenchmarkTokenCreatedPayload$' -benchmem ./events/
func BenchmarkTokenCreatedPayload(b *testing.B) {
	data := tokenCreatedData(b)
	b.Run("by_the_decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c TokenCreated
			if err := fastjson.UnmarshalOf(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain_form", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := plainTokenCreated(data); !ok {
				b.Fatal("not in the plain form")
			}
		}
	})
}

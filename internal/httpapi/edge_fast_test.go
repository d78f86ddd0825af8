package httpapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// FuzzEdgeTokensMatchStrictDecoder: the one-pass parser of /edge/validate
// bodies accepts only what the strict decoder accepts, with the same
// tokens; whatever it declines, edgeTokens answers as the strict decoder
// does.
func FuzzEdgeTokensMatchStrictDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"tokens":["*:development.abc"]}`,
		` { "tokens" : [ "a" , "b" ] } `,
		"{\"tokens\":[\"a\"]}\n",
		`{"tokens":[]}`,
		`{"tokens":[ ]}`,
		`{"tokens":["a",]}`,
		`{"tokens":["a"],"tokens":["b"]}`,
		`{"Tokens":["a"]}`,
		`{"tokens":null}`,
		`{"tokens":[null]}`,
		`{"tokens":["a\u003ab"]}`,
		`{"tokens":["\ud800"]}`,
		"{\"tokens\":[\"\xff\"]}",
		"{\"tokens\":[\"é\"]}",
		"{\"tokens\":[\"a\tb\"]}",
		`{"tokens":["a"]} {}`,
		`{"tokens":["a"]}x`,
		`{"tokens":[1]}`,
		`{}`, ``, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var strict struct {
			Tokens *[]string `json:"tokens"`
		}
		decErr := decodeBody(body, &strict)
		accepted := decErr == nil && strict.Tokens != nil
		fast, ok := parseEdgeTokens(body, nil)
		if ok && !accepted {
			t.Fatalf("one-pass parser accepted %q, the strict decoder refused it (%v)", body, decErr)
		}
		if ok && (fast == nil || !slices.Equal(fast, *strict.Tokens)) {
			t.Fatalf("one-pass parser read %q from %q, the strict decoder %q", fast, body, *strict.Tokens)
		}
		got, err := edgeTokens(body, nil)
		switch {
		case accepted && err != nil:
			t.Fatalf("edgeTokens(%q) refused a body the strict decoder accepts: %v", body, err)
		case accepted && !slices.Equal(got, *strict.Tokens):
			t.Fatalf("edgeTokens(%q) = %q, strict decoder %q", body, got, *strict.Tokens)
		case !accepted && err == nil:
			t.Fatalf("edgeTokens(%q) accepted a body the strict decoder refuses", body)
		case decErr != nil && err.Error() != decErr.Error():
			t.Fatalf("edgeTokens(%q) error %q, strict decoder %q", body, err, decErr)
		}
	})
}

// The answer /edge/validate appends by hand is byte for byte what
// writeJSON (encoding/json without HTML escaping, then a newline) writes,
// for plain scopes and for strings that need escaping.
func TestEdgeAnswerBytesMatchEncoder(t *testing.T) {
	tests := []struct {
		name   string
		tokens []edgeToken
	}{
		{"none", []edgeToken{}},
		{"one", []edgeToken{{Token: "*:development.abc", Type: "client", Projects: []string{"*"}, Environment: "development"}}},
		{"several projects", []edgeToken{{Token: "[p1,p2]:production.x", Type: "backend", Projects: []string{"p1", "p2"}, Environment: "production"},
			{Token: "default:development.y", Type: "frontend", Projects: []string{"default"}, Environment: "development"}}},
		{"no projects", []edgeToken{{Token: "t", Type: "client", Projects: nil, Environment: "e"}, {Token: "u", Type: "client", Projects: []string{}, Environment: "e"}}},
		{"escapes", []edgeToken{{Token: "q\"b\\s/<>&\n\t\x01\x7f", Type: "é\u2028\u2029", Projects: []string{"\xff", "日本"}, Environment: "\b\f"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(struct {
				Tokens []edgeToken `json:"tokens"`
			}{tt.tokens}); err != nil {
				t.Fatal(err)
			}
			if got := appendEdgeAnswer(nil, tt.tokens); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("answer\n%s\nwant\n%s", got, want.Bytes())
			}
		})
	}
}

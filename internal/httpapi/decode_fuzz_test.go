package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// FuzzDecodeCreateToken drives the request decoder with the body of the
// route that once made all-projects tokens from duplicate, case-variant and
// null members. It must never panic; every rejection is a 400 of the API's
// error shape that repeats no input; and every accepted body has only the
// route's member names, each once, spelt exactly, and no null.
func FuzzDecodeCreateToken(f *testing.F) {
	for _, seed := range []string{
		`{"tokenName":"t","type":"client","environment":"development","projects":["p1"]}`,
		`{"tokenName":"t","type":"client","projects":["p1"],"PROJECTS":["*"]}`,
		`{"tokenName":"t","type":"client","projects":["p1"],"projects":["*"]}`,
		`{"tokenName":"t","type":"client","projects":null}`,
		`{"tokenName":"t","type":"client","expiresAt":"9999-12-31T23:59:59-23:59"}`,
		`{"tokenName":"t","type":"client","expiresAt":"0001-01-01T00:00:00+01:00"}`,
		`{"*:*.secret-as-a-key":1}`,
		`{"tokenName":"t"} {"type":"client"}`,
		`{"project":{"a":[1,null]}}`,
		`[]`, `null`, ``, `"x"`, `{"tokenName":1e999}`,
	} {
		f.Add([]byte(seed))
	}
	known := fieldNames(&createTokenBody{})
	f.Fuzz(func(t *testing.T, body []byte) {
		var b createTokenBody
		seen := map[string]bool{}
		err := decodeBody(body, &b)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("rejection is not a 400 apiError: %#v", err)
			}
			if ae.ID == "" || ae.Name == "" || ae.Message == "" || len(ae.Details) == 0 {
				t.Fatalf("rejection lacks the error shape: %#v", ae)
			}
			if ae.Details[0].Path != "" && !slices.Contains(known, ae.Details[0].Path) {
				t.Fatalf("rejection names a field the route does not know: %q", ae.Details[0].Path)
			}
			for _, w := range echoCandidates(body) {
				if strings.Contains(ae.Message, w) {
					t.Fatalf("rejection repeats input %q: %s", w, ae.Message)
				}
			}
			return
		}
		// Accepted: an independent scan with encoding/json's tokenizer
		// (which matches names case-insensitively and keeps duplicates, so
		// it sees what the decoder must have refused).
		for _, k := range topLevelKeys(t, body) {
			if !slices.Contains(known, k) {
				t.Fatalf("accepted member %q the route does not know (a case variant?): %s", k, body)
			}
			if seen[k] {
				t.Fatalf("accepted duplicate member %q: %s", k, body)
			}
			seen[k] = true
		}
		if b.ExpiresAt != nil && !storableTime(*b.ExpiresAt) {
			t.Fatalf("accepted an expiry the ledger cannot store: %v", b.ExpiresAt)
		}
	})
}

// topLevelKeys lists the member names of the body's top-level object, in
// order, duplicates included; it fails the test on a null anywhere.
func topLevelKeys(t *testing.T, body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var keys []string
	// stack holds, per open container, whether it is an object and whether
	// its next string token is a member name.
	type frame struct{ object, wantKey bool }
	var stack []frame
	value := func() { // a value ended: the enclosing object wants a key next
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				value()
			}
		case nil:
			t.Fatalf("accepted a null: %s", body)
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				stack[n-1].wantKey = false
				if n == 1 {
					keys = append(keys, v)
				}
				continue
			}
			value()
		default:
			value()
		}
	}
}

// echoCandidates are the body's string contents long enough that finding
// one in an error message means the message repeats input.
func echoCandidates(body []byte) []string {
	var out []string
	for _, part := range strings.Split(string(body), `"`) {
		if len(part) >= 12 && !strings.ContainsAny(part, "{}[]:,") {
			out = append(out, part)
		}
	}
	return out
}

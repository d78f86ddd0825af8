package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// The streamed token list is byte for byte what encoding/json wrote for
// the whole answer before (HTML escaping off), for values that need
// escaping, times with and without nanoseconds or zones, and every scope.
func TestTokenListIsWhatEncodingJSONWrites(t *testing.T) {
	created := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	zoned := time.Date(2027, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 5*3600+30*60))
	cases := []tokenset.Token{
		{ID: "0b5e6a1c-1d1e-4f7e-9b0a-3c1b2a1d0e0f", Name: "plain", Type: "client", Environment: "development",
			Projects: []string{"default"}, CreatedAt: created},
		{ID: "id-2", Name: `quote " backslash \ tab 	 nl
 <html>&amp;`, Type: "backend", Environment: "pröd", AllProjects: true, CreatedAt: zoned, ExpiresAt: zoned},
		{ID: "id-3", Name: "line sep \u2028 para \u2029 ctl \x01 bad utf-8 \xff", Type: "frontend", Environment: "e",
			Projects: []string{"a", "b\"c", "ü"}, CreatedAt: created.Add(time.Nanosecond), ExpiresAt: created.Add(90 * time.Minute)},
		{ID: "id-4", Name: "", Type: "admin", Environment: "*", CreatedAt: created},
	}
	for i, tok := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(toAPIToken(tok)); err != nil {
			t.Fatal(err)
		}
		got := appendAPIToken(nil, tok)
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
	}
}

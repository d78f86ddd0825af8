package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A refused read of the audit trail by any authenticated caller (a Viewer's
// PAT is enough) appends an audit.queried record that keeps the request's
// query parameters unparsed: up to 32 names of the caller's choosing with
// 16 values of 256 bytes each, as much as the 64 KiB request header holds.
// One GET appends ~58 KB of the caller's text to the append-only,
// never-trimmed stream; the default budget (burst 60, 2/s) lets one Viewer
// append ~3.5 MB at once and ~10 GB a day, for ever. An allowed read's
// record is bounded by the query's own checks (17 known parameters, only
// actor and type repeat: ~12 KB at most); a refusal needs to keep no more.
func TestDeniedAuditReadAppendsABoundedRecord(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	viewer := s.CreateUser("viewer", "Viewer")
	var q []string
	value := strings.Repeat("x", 256)
	for k := range 32 {
		for range 7 {
			q = append(q, fmt.Sprintf("k%02d=%s", k, value))
		}
	}
	req, err := http.NewRequest("GET", s.URL()+"/api/ledger/events?"+strings.Join(q, "&"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", viewer.Secret)
	before := s.LastSeq()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	const most = 16 << 10
	for _, e := range s.Events(before+1, s.LastSeq()) {
		if len(e.Data) > most {
			t.Errorf("the refusal appended a %s of %d bytes of the caller's text (at most %d expected)", e.Type, len(e.Data), most)
		}
	}
}

package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A spreadsheet whose list separator is ";" (Excel in most European
// locales opens a .csv with the system's separator) splits an unquoted
// cell at every ";". A cell a client controls (here the User-Agent of a
// Viewer's PAT create) that holds ";=" outside quotes therefore starts a
// new cell with a formula there, past the leading-character check. Every
// cell of the CSV export, read with ";" as the separator as well as ",",
// must be free of formula triggers.
func TestAuditCSVExportHasNoFormulaCellUnderSemicolonSeparator(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	viewer := s.CreateUser("sheet", "Viewer")
	payloads := []string{
		"Mozilla/5.0;=1+1",
		"curl/8;+HYPERLINK(A1)",
		"x;-2+3",
		"x;@SUM(A1)",
	}
	for i, ua := range payloads {
		s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", "Bearer "+viewer.Secret,
			map[string]any{"description": "ua" + strconv.Itoa(i), "expiresAt": servicetest.FromNow(time.Hour)},
			"User-Agent", ua)
	}
	r := s.Must(http.StatusOK, "GET", "/api/ledger/events?format=csv", servicetest.AdminSecret, nil)
	var formulas []string
	for n, line := range strings.Split(string(r.Body), "\r\n") {
		for _, cell := range semicolonCells(line) {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				cell, _, _ = strings.Cut(cell, ",")
				formulas = append(formulas, fmt.Sprintf("line %d: %q", n+1, cell))
			}
		}
	}
	if len(formulas) > 0 {
		t.Fatalf("%d cells of the CSV export read as formulas with the separator \";\":\n%s", len(formulas), strings.Join(formulas, "\n"))
	}
}

// semicolonCells splits a CSV line at the ";" outside double quotes, as a
// spreadsheet with ";" as its list separator does.
func semicolonCells(line string) []string {
	var cells []string
	quoted, start := false, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				cells = append(cells, line[start:i])
				start = i + 1
			}
		}
	}
	return append(cells, line[start:])
}

// A window beyond every event reads nothing, in a page and in an export:
// a cursor at the largest sequence (after= the largest uint64 once
// wrapped to 0 when the log added one, so a forged cursor read from the
// first event), and until= the first instant of year 1 (Go's zero
// time.Time, once read as "no bound"). A cursor the route cannot take may
// be refused with 400 instead.
func TestAuditWindowBeyondEveryEventReadsNothing(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development", "default")
	const maxSeq = "18446744073709551615"
	for _, q := range []string{
		"after=" + maxSeq, "from_seq=" + maxSeq, "after=" + maxSeq + "&format=ndjson",
		"until=0001-01-01T00:00:00Z", "until=0001-01-01T00:00:00Z&format=ndjson",
	} {
		t.Run(q, func(t *testing.T) {
			r := s.For(t).Do("GET", "/api/ledger/events?"+q, servicetest.AdminSecret, nil)
			switch {
			case r.Status == http.StatusBadRequest && !strings.HasPrefix(q, "until="):
				return
			case r.Status != http.StatusOK:
				t.Fatalf("status %d: %s", r.Status, r.Body)
			case strings.Contains(q, "format="):
				if len(strings.TrimSpace(string(r.Body))) != 0 {
					t.Fatalf("the export has events (X-Ledger-Sequence-Range %q):\n%.300s",
						r.Header.Get("X-Ledger-Sequence-Range"), r.Body)
				}
				return
			}
			var p struct {
				Events []json.RawMessage `json:"events"`
			}
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != 0 {
				t.Fatalf("the page has %d events, the first %s", len(p.Events), p.Events[0])
			}
		})
	}
}

// The token set as of the first instant of year 1 (Go's zero time, which
// the route accepts) is empty: no token existed yet. It is an answer, not
// the 400 of a request that gave neither seq nor at.
func TestStateAtTheFirstInstantHoldsNoToken(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development", "default")
	r := s.Must(http.StatusOK, "GET", "/api/ledger/state?at=0001-01-01T00:00:00Z", servicetest.AdminSecret, nil)
	var st struct {
		Tokens []json.RawMessage `json:"tokens"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Tokens) != 0 {
		t.Fatalf("the state at year 1 holds %d tokens, the first %s", len(st.Tokens), st.Tokens[0])
	}
}

// An export whose sequence window is empty says so in its range header
// ("0-0") instead of a reversed range such as "5-2", and holds nothing.
func TestAuditExportOfAnEmptyWindowSaysSo(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development", "default")
	for _, q := range []string{
		"after=4&to_seq=2",
		"from_seq=3&to_seq=2",
		"order=desc&before=1",
		"after=18446744073709551615",
		"until=0001-01-01T00:00:00Z",
	} {
		t.Run(q, func(t *testing.T) {
			r := s.For(t).Must(http.StatusOK, "GET", "/api/ledger/events?format=ndjson&"+q, servicetest.AdminSecret, nil)
			if got := r.Header.Get("X-Ledger-Sequence-Range"); got != "0-0" {
				t.Errorf("X-Ledger-Sequence-Range %q, want 0-0", got)
			}
			if len(strings.TrimSpace(string(r.Body))) != 0 {
				t.Errorf("the export of an empty window has events:\n%.300s", r.Body)
			}
		})
	}
}

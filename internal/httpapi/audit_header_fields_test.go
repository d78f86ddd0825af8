package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Names refuse control and format characters (a U+202E reverses what an
// auditor reads), but the audit record's via.requestId and via.userAgent
// are copied from the client's X-Request-Id and User-Agent headers as
// sent: an anonymous-looking change can carry a reversed or invisible
// request id into the audit trail (and a request id chosen to equal
// someone else's). What the ledger records from a header must hold no
// control or format characters.
func TestClientHeadersCannotCarryBidiOrInvisibleCharactersIntoTheAuditTrail(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	for i, h := range []struct{ name, value string }{
		{"X-Request-Id", "req-\u202e1234"},
		{"X-Request-Id", "req-\u200b\u2066x"},
		{"User-Agent", "curl/8.0 \u202eliam-live"},
		{"User-Agent", "tool\ufeff/1"},
	} {
		t.Run(h.name+"/"+strconv.Itoa(i), func(t *testing.T) {
			id := "p" + strconv.Itoa(i)
			s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": id, "name": id}, h.name, h.value)
			r := s.Must(http.StatusOK, "GET", "/api/ledger/events?type=project.created&aggregate="+id, servicetest.AdminSecret, nil)
			var out struct {
				Events []struct {
					Via struct {
						RequestID string `json:"requestId"`
						UserAgent string `json:"userAgent"`
					} `json:"via"`
				} `json:"events"`
			}
			if err := json.Unmarshal(r.Body, &out); err != nil || len(out.Events) != 1 {
				t.Fatalf("events: %v %s", err, r.Body)
			}
			via := out.Events[0].Via
			for _, v := range []string{via.RequestID, via.UserAgent} {
				if strings.IndexFunc(v, func(c rune) bool { return unicode.Is(unicode.Cf, c) || unicode.IsControl(c) }) >= 0 {
					t.Fatalf("the audit record holds %+q from the %s header", v, h.name)
				}
			}
		})
	}
}

package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A request id correlates an answer with its log lines: a validation
// whose access line is written (every refusal; an answered one only at
// DEBUG) carries the id of that line, the client's X-Request-Id when it
// sent a safe one; an answered validation logged at nothing carries none
// (making one for every Unleash Edge call is work no one reads).
func TestValidationCarriesTheRequestIDOfItsAccessLineWhenOneIsWritten(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.LogLevel = level })
			secret, _ := s.CreateToken("client", "development")
			valid := map[string]any{"tokens": []string{secret}}
			for _, c := range []struct {
				name, clientID string
				body           any
				status         int
				logged         bool
			}{
				{"answered", "", valid, http.StatusOK, level == slog.LevelDebug},
				{"answered, client id", "edge-req-1", valid, http.StatusOK, level == slog.LevelDebug},
				{"refused", "", `{"tokens":[1]}`, http.StatusBadRequest, true},
				{"refused, client id", "edge-req-2", `{"tokens":[1]}`, http.StatusBadRequest, true},
				{"refused, unsafe client id", "edge req 3", `{"tokens":[1]}`, http.StatusBadRequest, true},
			} {
				var headers []string
				if c.clientID != "" {
					headers = []string{"X-Request-Id", c.clientID}
				}
				r := s.Do("POST", "/edge/validate", "", c.body, headers...)
				if r.Status != c.status {
					t.Fatalf("%s: status %d, want %d: %s", c.name, r.Status, c.status, r.Body)
				}
				id := r.Header.Get("X-Request-Id")
				switch {
				case !c.logged && id != "":
					t.Errorf("%s: X-Request-Id %q on an answer no log line names", c.name, id)
				case c.logged && id == "":
					t.Errorf("%s: no X-Request-Id on an answer whose access line is logged", c.name)
				case c.logged && c.clientID != "" && !strings.Contains(c.clientID, " ") && id != c.clientID:
					t.Errorf("%s: X-Request-Id %q, want the client's %q", c.name, id, c.clientID)
				case c.logged && strings.Contains(c.clientID, " ") && id == c.clientID:
					t.Errorf("%s: the unsafe client id %q was used", c.name, id)
				}
				if c.logged && !loggedRequestID(s.Logs(), id) {
					t.Errorf("%s: no access line with request_id %q", c.name, id)
				}
			}
		})
	}
}

// loggedRequestID reports whether an access line of /edge/validate names id.
func loggedRequestID(logs, id string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var e struct {
			Msg, Route string
			RequestID  string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" && e.Route == "POST /edge/validate" && e.RequestID == id {
			return true
		}
	}
	return false
}

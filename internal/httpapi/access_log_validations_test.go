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

// Unleash Edge validates its tokens all the time: an answered validation
// is logged at DEBUG like a probe (the request metrics still count it),
// while a refused one (a malformed body, an address out of guessing
// budget) stays at INFO, so guessing shows in an INFO log.
func TestAccessLogPutsAnsweredValidationsAtDebugAndRefusedOnesAtInfo(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				c.LogLevel = level
				c.UnauthRate, c.UnauthBurst = 0.001, 1
			})
			secret, _ := s.CreateToken("client", "development")
			s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}})
			s.MustRefuse(http.StatusBadRequest, "POST", "/edge/validate", "", `{"tokens":[1]}`)
			s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{"*:development.guess"}})
			s.MustRefuse(http.StatusTooManyRequests, "POST", "/edge/validate", "", map[string]any{"tokens": []string{"*:development.guess2"}})

			var got []string // status:level of each validation's access-log line
			for _, line := range strings.Split(s.Logs(), "\n") {
				var e struct {
					Msg, Level, Route string
					Status            int
				}
				if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" && e.Route == "POST /edge/validate" {
					got = append(got, http.StatusText(e.Status)+":"+e.Level)
				}
			}
			want := []string{"Bad Request:INFO", "Too Many Requests:INFO"}
			if level == slog.LevelDebug {
				want = []string{"OK:DEBUG", "Bad Request:INFO", "OK:DEBUG", "Too Many Requests:INFO"}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("validations logged as %q, want %q", got, want)
			}
		})
	}
}

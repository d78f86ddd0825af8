package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// --log-format text writes key=value lines.
func TestLogFormatText(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.LogFormat = "text" })
	s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
	logs := s.Logs()
	if !strings.Contains(logs, `msg="tokenledger serving"`) || !strings.Contains(logs, `route="GET /api/admin/api-tokens"`) {
		t.Fatalf("text logs lack the serving and request lines:\n%s", logs)
	}
	if strings.Contains(logs, `{"time"`) {
		t.Fatalf("text format wrote JSON:\n%s", logs)
	}
}

// The service's start-up replay is logged through its logger: start,
// progress at the configured interval, and a summary with the count.
func TestStartUpLogsTheReplay(t *testing.T) {
	first := servicetest.Start(t, "", nil)
	for i := 0; i < 3; i++ {
		first.CreateToken("backend", "development")
	}
	stored := first.LastSeq() + 1 // and the checkpoint the shutdown appends
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	s := servicetest.StartWith(t, first.Config.DataDir, nil, func(c *service.Config) {
		c.ReplayProgressEvery, c.SnapshotFile = time.Hour, service.SnapshotOff // a full replay, not the snapshot
	})
	count := map[string]int{}
	var done struct {
		Events float64 `json:"events_applied"`
	}
	for _, line := range strings.Split(s.Logs(), "\n") {
		var e struct{ Msg string }
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		count[e.Msg]++
		if e.Msg == "replay done" {
			_ = json.Unmarshal([]byte(line), &done)
		}
	}
	if count["replay started"] != 1 || count["replay done"] != 1 || count["replay progress"] != 0 {
		t.Fatalf("replay lines %v, want one start, one summary, no progress within an hour", count)
	}
	if done.Events != float64(stored) {
		t.Errorf("the summary counts %v events, the stream held %d", done.Events, stored)
	}
}

package projections_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// lockedBuffer is a log sink safe for the Runner's goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines decodes the JSON log lines, grouped by message.
func (l *lockedBuffer) lines(t *testing.T) map[string][]map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out[m["msg"].(string)] = append(out[m["msg"].(string)], m)
	}
	return out
}

// An operator sees a replay start (with the events it will apply),
// progress with a rate every ProgressEvery, and a summary with the count
// and duration; live events after it are not logged one by one.
func TestRunner_logs_replay_start_progress_and_summary(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	l.mixed(3000)
	tests := []struct {
		name         string
		every        time.Duration
		wantProgress int
	}{
		// The clock is read every 256 events; with a nanosecond interval
		// each such check logs, except at the last event (the summary).
		// Subtests run in order on one stream; the first one replays 3000.
		{"progress_at_every_check", time.Nanosecond, (3000 - 1) / 256},
		{"no_progress_within_the_interval", time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxFor(t)
			n := len(l.sent) // the subtests before added live events
			buf := &lockedBuffer{}
			r := projections.NewRunner(l.store, tokenset.New(), auditlog.New(l.store))
			r.Log = slog.New(slog.NewJSONHandler(buf, nil))
			r.ProgressEvery = tt.every
			start(t, r)
			if err := r.WaitReady(ctx); err != nil {
				t.Fatalf("WaitReady: %v", err)
			}
			// The summary is logged before the Runner says it is ready.
			logs := buf.lines(t)
			if got := len(logs["replay started"]); got != 1 {
				t.Fatalf("%d start lines, want 1", got)
			}
			if s := logs["replay started"][0]; s["events_to_apply"] != float64(n) || s["stream_last_seq"] != float64(n) || s["from_seq"] != float64(1) {
				t.Errorf("start line %v, want events_to_apply=%d stream_last_seq=%d from_seq=1", s, n, n)
			}
			progress := logs["replay progress"]
			if len(progress) != tt.wantProgress {
				t.Fatalf("%d progress lines, want %d", len(progress), tt.wantProgress)
			}
			prev := 0.0
			for _, p := range progress {
				applied, _ := p["events_applied"].(float64)
				if applied <= prev || applied >= float64(n) || p["events_to_apply"] != float64(n) {
					t.Errorf("progress line %v: applied must grow and stay below %d", p, n)
				}
				if _, ok := p["events_per_second"].(float64); !ok {
					t.Errorf("progress line %v has no rate", p)
				}
				prev = applied
			}
			if got := len(logs["replay done"]); got != 1 {
				t.Fatalf("%d summary lines, want 1", got)
			}
			sum := logs["replay done"][0]
			if sum["events_applied"] != float64(n) || sum["last_seq"] != float64(n) {
				t.Errorf("summary %v, want events_applied=%d last_seq=%d", sum, n, n)
			}
			if d, ok := sum["duration_seconds"].(float64); !ok || d <= 0 {
				t.Errorf("summary %v has no duration", sum)
			}
			if st := r.Replay(); !st.Done || st.Events != uint64(n) || st.Duration <= 0 {
				t.Errorf("Replay() = %+v, want done with %d events and a duration", st, n)
			}

			// A live event after the replay adds no replay line.
			seq := l.append(l.sent[0].AggregateID, events.TokenRevoked{Reason: events.ReasonDeleted})
			if err := r.WaitFor(ctx, seq); err != nil {
				t.Fatal(err)
			}
			after := buf.lines(t)
			if len(after["replay progress"]) != tt.wantProgress || len(after["replay done"]) != 1 || len(after["replay started"]) != 1 {
				t.Errorf("a live event was logged as replay: %v", after)
			}
		})
	}
}

// An empty stream still says what the replay did: nothing, at once.
func TestRunner_logs_an_empty_replay(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	buf := &lockedBuffer{}
	r := projections.NewRunner(l.store, tokenset.New())
	r.Log = slog.New(slog.NewJSONHandler(buf, nil))
	start(t, r)
	if err := r.WaitReady(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	logs := buf.lines(t)
	if len(logs["replay started"]) != 1 || logs["replay started"][0]["events_to_apply"] != float64(0) {
		t.Errorf("start lines %v, want one with events_to_apply=0", logs["replay started"])
	}
	if len(logs["replay done"]) != 1 || logs["replay done"][0]["events_applied"] != float64(0) {
		t.Errorf("summary lines %v, want one with events_applied=0", logs["replay done"])
	}
	if len(logs["replay progress"]) != 0 {
		t.Errorf("progress lines for an empty replay: %v", logs["replay progress"])
	}
}

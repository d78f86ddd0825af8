package service_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// documentedMetrics reads the README's Metrics table: name → type.
func documentedMetrics(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Metrics\n")
	if !ok {
		t.Fatal("README has no Metrics subsection")
	}
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	row := regexp.MustCompile("^\\| `(tokenledger_[a-z_]+)` \\| (counter|gauge|histogram) \\|")
	out := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	if len(out) == 0 {
		t.Fatal("README's Metrics table lists no metric")
	}
	return out
}

// scrapedTypes reads "# TYPE name type" lines of a /metrics answer.
func scrapedTypes(body string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	return out
}

// sample returns the value of the first sample line starting with prefix.
func sample(t *testing.T, body, prefix string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no sample %q", prefix)
	return 0
}

// Every metric the README documents is served with the documented type,
// and every tokenledger_* metric served is documented: the docs cannot
// drift from the code.
func TestMetricsServedAreTheMetricsDocumented(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
	served := scrapedTypes(string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body))
	documented := documentedMetrics(t)
	for name, typ := range documented {
		if got, ok := served[name]; !ok {
			t.Errorf("%s is documented but not served", name)
		} else if got != typ {
			t.Errorf("%s is served as a %s, documented as a %s", name, got, typ)
		}
	}
	for name := range served {
		if strings.HasPrefix(name, "tokenledger_") && documented[name] == "" {
			t.Errorf("%s is served but not documented in README's Metrics table", name)
		}
	}
}

// What an SRE reads: the build, the NATS connection, the replay, the
// stream's lag (none once caught up) and appends, with failures by cause.
func TestMetricsReportBuildNATSReplayLagAndAppends(t *testing.T) {
	first := servicetest.Start(t, "", nil)
	first.CreateToken("backend", "development")
	stored := first.LastSeq()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Its start replays what the first one stored (the snapshot off: a
	// start from it would replay nothing).
	s := servicetest.StartWith(t, first.Config.DataDir, nil, func(c *service.Config) { c.SnapshotFile = service.SnapshotOff })
	body := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
	if !regexp.MustCompile(`tokenledger_build_info\{commit="[^"]+",go_version="` + regexp.QuoteMeta(runtime.Version()) + `",version="[^"]+"\} 1`).MatchString(body) {
		t.Errorf("no build info with go_version %s:\n%s", runtime.Version(), grep(body, "build_info"))
	}
	if v := sample(t, body, `tokenledger_nats_connection_state{state="connected"}`); v != 1 {
		t.Errorf("NATS connected = %v, want 1", v)
	}
	if v := sample(t, body, `tokenledger_nats_connection_state{state="closed"}`); v != 0 {
		t.Errorf("NATS closed = %v, want 0", v)
	}
	replayed := sample(t, body, "tokenledger_replay_events ")
	if replayed < float64(stored) {
		t.Errorf("the start-up replay applied %v events, the first run stored %d", replayed, stored)
	}
	if v := sample(t, body, "tokenledger_replay_duration_seconds "); v <= 0 {
		t.Errorf("replay duration %v, want > 0", v)
	}
	if v := sample(t, body, "tokenledger_stream_last_sequence "); v != float64(s.LastSeq()) {
		t.Errorf("stream last sequence %v, want %d", v, s.LastSeq())
	}
	if lag, age := sample(t, body, "tokenledger_stream_lag_events "), sample(t, body, "tokenledger_stream_lag_seconds "); lag != 0 || age != 0 {
		t.Errorf("caught up, yet lag %v events, %v s", lag, age)
	}
	appendsBefore := sample(t, body, "tokenledger_append_duration_seconds_count ")

	s.CreateToken("frontend", "development")
	// The stream stops being audit-grade: a create is refused as unavailable.
	s.MakeStreamUnsafe()
	s.Must(http.StatusServiceUnavailable, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "refused", "type": "backend", "environment": "development"})
	body = string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
	if v := sample(t, body, "tokenledger_append_duration_seconds_count "); v < appendsBefore+2 {
		t.Errorf("append count %v after a create and a refused create, was %v", v, appendsBefore)
	}
	if v := sample(t, body, `tokenledger_append_errors_total{cause="unavailable"}`); v < 1 {
		t.Errorf("unavailable appends %v, want at least 1", v)
	}
	if v := sample(t, body, `tokenledger_append_errors_total{cause="other"}`); v != 0 {
		t.Errorf("appends failed for another cause: %v", v)
	}
}

func grep(body, s string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Projections that fall behind show as stream lag, in events and in the
// age of the oldest event they have not applied: here an event they
// cannot decode stops them, and /ready says so.
func TestMetricsReportTheLagOfProjectionsThatStopped(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "ledger.token.garbage.created", []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	for s.Runner.Err() == nil {
		select {
		case <-ctx.Done():
			t.Fatal("the projections applied an undecodable event")
		case <-time.After(10 * time.Millisecond):
		}
	}
	r := s.Do("GET", "/ready", "", nil)
	if r.Status != http.StatusServiceUnavailable || r.JSON(t)["health"] != "LEDGER_TAMPERED" {
		t.Fatalf("/ready = %d %s, want 503 LEDGER_TAMPERED", r.Status, r.Body)
	}
	body := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
	if v := sample(t, body, "tokenledger_stream_lag_events "); v != 1 {
		t.Errorf("lag %v events, want 1", v)
	}
	if v := sample(t, body, "tokenledger_stream_lag_seconds "); v <= 0 {
		t.Errorf("lag %v s, want the age of the unapplied event", v)
	}
	if v := sample(t, body, "tokenledger_projections_ready "); v != 0 {
		t.Errorf("projections ready %v after they stopped", v)
	}
}

// The readers' feed is visible to an SRE: the publisher's state and how
// far the feed reaches in the ledger; without a listener it is "off".
func TestMetricsReportTheReadersFeed(t *testing.T) {
	off := servicetest.Start(t, "", nil)
	if v := sample(t, string(off.Must(http.StatusOK, "GET", "/metrics", "", nil).Body), `tokenledger_feed_state{state="off"}`); v != 1 {
		t.Fatalf("without a NATS listener the feed state off = %v, want 1", v)
	}

	s := startWithReaders(t, "", nil)
	s.CreateToken("backend", "development")
	want := float64(s.LastSeq())
	servicetest.WaitFor(t, 10*time.Second, func() error {
		body := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
		following := sample(t, body, `tokenledger_feed_state{state="following"}`)
		last := sample(t, body, "tokenledger_feed_last_ledger_sequence ")
		if following == 1 && last >= want-2 && last > 0 {
			return nil
		}
		return fmt.Errorf("feed following=%v last ledger sequence=%v, want 1 and about %v", following, last, want)
	})
}

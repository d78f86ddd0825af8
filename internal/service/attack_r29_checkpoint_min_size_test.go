package service_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// atk-r29 against GET /api/ledger/checkpoint?min_size=N (the tenth
// session's wait for a lagging replica).

// checkpointAnswer is the route's answer.
type checkpointAnswer struct {
	Size        int64  `json:"size"`
	Root        string `json:"root"`
	Checkpoint  string `json:"checkpoint"`
	VerifierKey string `json:"verifierKey"`
}

// checkClaims fails unless a 200's size and root are the signed note's
// (the answer claims no more than the ledger signed).
func checkClaims(t *testing.T, what string, body []byte, vkey string) checkpointAnswer {
	t.Helper()
	var cp checkpointAnswer
	if err := json.Unmarshal(body, &cp); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	keys, err := integrity.Verifiers(vkey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := integrity.OpenCheckpoint([]byte(cp.Checkpoint), keys)
	if err != nil {
		t.Fatalf("%s: the checkpoint does not open with the ledger's key: %v", what, err)
	}
	if k.Size != cp.Size || base64.StdEncoding.EncodeToString(k.Root[:]) != cp.Root {
		t.Errorf("%s: the answer says size %d root %s, its signed note %d %v", what, cp.Size, cp.Root, k.Size, k.Root)
	}
	return cp
}

// Hostile values of min_size on a running ledger, with a credential that
// may read the trail: each is answered at once (nothing held), a
// malformed one 400, a huge or past-the-stream one 200 with the newest
// checkpoint, whose size and root are its signed note's (no answer says
// it covers N when its note does not).
func TestAttackR29CheckpointMinSizeHostileValues(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development")
	s.CatchUp()
	vkey := s.VerifierKey()
	last := s.LastSeq()
	huge := strings.Repeat("9", 4000)
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 200},
		{"min_size=", 200},
		{"min_size=0", 200},
		{"min_size=1", 200},
		{fmt.Sprintf("min_size=%d", last), 200},
		{fmt.Sprintf("min_size=%d", last+1000), 200}, // past the stream: not waited for
		{"min_size=4611686018427387904", 200},        // 2^62
		{"min_size=4611686018427387905", 200},
		{"min_size=9223372036854775807", 200},
		{"min_size=9223372036854775808", 200}, // 2^63
		{"min_size=18446744073709551615", 200},
		{"min_size=18446744073709551616", 400}, // 2^64
		{"min_size=-1", 400},
		{"min_size=1e3", 400},
		{"min_size=%205", 400},
		{"min_size=5%20", 400},
		{"min_size=%2B5", 400},
		{"min_size=0x10", 400},
		{"min_size=5&min_size=6", 400},
		{"min_size=5&other=1", 400},
		{"min_size=" + huge, 400},
		{"MIN_SIZE=5", 400},
	} {
		start := time.Now()
		r := s.Do("GET", "/api/ledger/checkpoint?"+tc.query, servicetest.AdminSecret, nil)
		took := time.Since(start)
		name := tc.query
		if len(name) > 60 {
			name = name[:60] + "…"
		}
		if r.Status != tc.want {
			t.Errorf("?%s: %d %s, want %d", name, r.Status, r.Body, tc.want)
			continue
		}
		if took > time.Second {
			t.Errorf("?%s: answered after %s, want at once", name, took)
		}
		if r.Status == 200 {
			cp := checkClaims(t, name, r.Body, vkey)
			if cp.Size < int64(last) {
				t.Errorf("?%s: a checkpoint of %d records, the ledger applied %d", name, cp.Size, last)
			}
		} else {
			servicetest.CheckErrorShape(t, r)
			if strings.Contains(string(r.Body), huge[:200]) {
				t.Errorf("?%s: the answer echoes the value", name)
			}
		}
	}
}

// getCheckpointHandlers counts the goroutines serving the checkpoint
// route (in this process: the services under test).
func getCheckpointHandlers() int {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "httpapi.(*Server).getCheckpoint(")
}

// A replica whose projections are held (a lagging replica whose lag does
// not end) asked by 16 auditors at once for a checkpoint of N records its
// stream holds: every wait ends within the write wait, each with 503 and
// Retry-After (never a 200 with a checkpoint short of N, which verify
// reads as tail-truncation), and no handler is left. 16 more whose clients hang up after 300 ms: their
// handlers end with them, not at the write wait. A caller without a
// credential, with a wrong one, or with one that may not read the trail
// gets no wait at all. A malformed min_size none either.
func TestAttackR29SixteenMinSizeWaitsOnAStuckReplica(t *testing.T) {
	l := startLaggingReplica(t)
	b := l.b
	wait := b.Config.ReadWait // the routes' write wait
	n := fmt.Sprint(l.cp.Size)
	if h := getCheckpointHandlers(); h != 0 {
		t.Fatalf("%d checkpoint handlers before the test", h)
	}

	// No wait for a caller who may not ask.
	for _, tc := range []struct{ name, cred, query string }{
		{"no credential", "", "min_size=" + n},
		{"a wrong credential", "*:*.not-a-token-0123456789abcdef0123456789abcdef", "min_size=" + n},
		{"a malformed min_size", servicetest.AdminSecret, "min_size=" + n + "&min_size=" + n},
	} {
		start := time.Now()
		r := b.Do("GET", "/api/ledger/checkpoint?"+tc.query, tc.cred, nil)
		if took := time.Since(start); took > time.Second || r.Status == 200 || r.Header.Get("Retry-After") != "" && r.Status != 429 {
			t.Errorf("%s: %d Retry-After %q after %s, want a refusal at once", tc.name, r.Status, r.Header.Get("Retry-After"), took)
		}
	}

	// 16 waits to the end.
	type answer struct {
		status int
		retry  string
		body   []byte
		took   time.Duration
		err    error
	}
	ask := func(ctx context.Context) answer {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "GET", b.URL()+"/api/ledger/checkpoint?min_size="+n, nil)
		req.Header.Set("Authorization", servicetest.AdminSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return answer{err: err, took: time.Since(start)}
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, retry: resp.Header.Get("Retry-After"), body: body, took: time.Since(start)}
	}
	var answers [16]answer
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = ask(context.Background()) })
	}
	time.Sleep(500 * time.Millisecond)
	if h := getCheckpointHandlers(); h != len(answers) {
		t.Logf("%d checkpoint handlers while 16 wait", h)
	}
	wg.Wait()
	for i, a := range answers {
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.retry != "1" {
			t.Errorf("wait %d: %v %d Retry-After %q %s; want 503 with Retry-After 1", i, a.err, a.status, a.retry, a.body)
			continue
		}
		if a.took > wait+1500*time.Millisecond {
			t.Errorf("wait %d: answered after %s, the write wait is %s", i, a.took, wait)
		}
	}
	t.Logf("16 waits: the first answered after %s (write wait %s)", answers[0].took.Round(time.Millisecond), wait)
	servicetest.WaitFor(t, 2*time.Second, func() error {
		if h := getCheckpointHandlers(); h != 0 {
			return fmt.Errorf("%d checkpoint handlers left after every answer", h)
		}
		return nil
	})

	// 16 clients that hang up.
	ctx, cancel := context.WithCancel(context.Background())
	for i := range answers {
		wg.Go(func() { answers[i] = ask(ctx) })
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	hungUp := time.Now()
	wg.Wait()
	servicetest.WaitFor(t, 2*time.Second, func() error {
		if h := getCheckpointHandlers(); h != 0 {
			return fmt.Errorf("%d checkpoint handlers %s after their clients hung up", h, time.Since(hungUp).Round(time.Millisecond))
		}
		return nil
	})
	if d := time.Since(hungUp); d > wait/2 {
		t.Errorf("the handlers of clients that hung up ended %s later (write wait %s)", d, wait)
	}
}

// min_size on a ledger whose projections stopped on a forged event: 503
// at once, without Retry-After (no wait ends it); on a ledger asked while
// the store refuses nothing but the projections are stopped, no wait.
func TestAttackR29CheckpointMinSizeOnATamperedLedger(t *testing.T) {
	srv := natstest.RunServer(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true
	})
	s.CreateToken("backend", "development")
	n := s.LastSeq()
	subject, data := forgeAdminToken(t, s, nil)
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), subject, data); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, s)
	for _, q := range []string{"", "?min_size=" + fmt.Sprint(n), "?min_size=" + fmt.Sprint(n+1), "?min_size=" + fmt.Sprint(n+1000)} {
		start := time.Now()
		r := s.Do("GET", "/api/ledger/checkpoint"+q, servicetest.AdminSecret, nil)
		if took := time.Since(start); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "" || took > time.Second {
			t.Errorf("GET /api/ledger/checkpoint%s on a tampered ledger: %d Retry-After %q after %s; want 503 without Retry-After at once",
				q, r.Status, r.Header.Get("Retry-After"), took)
		}
	}
}

// One ledger whose projections are held after a write was stored (the
// write's answer waits): the auditor asking for a checkpoint covering
// that write waits (within the write wait) and is told to retry (503,
// Retry-After), then, once the projections go on, gets a checkpoint
// covering it; a caller that may not read the trail (a Viewer's PAT) is
// refused at once, without a wait for N.
func TestAttackR29MinSizeWaitIsForAuditorsOnly(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	viewer := s.CreateUser("viewer29", "Viewer")
	s.CatchUp()
	before := s.LastSeq()

	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	go func() {
		_ = s.Runner.Hold(func(uint64) error {
			close(held)
			select {
			case <-release:
			case <-time.After(time.Minute):
			}
			return nil
		})
	}()
	<-held
	go func() {
		req, _ := http.NewRequest("POST", s.URL()+"/api/admin/api-tokens",
			strings.NewReader(`{"tokenName":"r29","type":"backend","environment":"development"}`))
		req.Header.Set("Authorization", servicetest.AdminSecret)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	servicetest.WaitFor(t, 10*time.Second, func() error {
		if s.LastSeq() <= before {
			return fmt.Errorf("the write is not stored yet")
		}
		return nil
	})
	last := s.LastSeq()
	n := fmt.Sprint(last)

	start := time.Now()
	r := s.Do("GET", "/api/ledger/checkpoint?min_size="+n, viewer.Secret, nil)
	if took := time.Since(start); r.Status != http.StatusForbidden || took > time.Second {
		t.Errorf("a Viewer's min_size=%s: %d after %s, want 403 at once", n, r.Status, took)
	}
	start = time.Now()
	r = s.Do("GET", "/api/ledger/checkpoint?min_size="+n, servicetest.AdminSecret, nil)
	took := time.Since(start)
	t.Logf("the auditor's min_size=%s: %d Retry-After %q after %s", n, r.Status, r.Header.Get("Retry-After"), took.Round(time.Millisecond))
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" || took < time.Second {
		t.Errorf("the auditor's min_size=%s on held projections: %d Retry-After %q after %s %s; want a wait, then 503 with Retry-After 1", n, r.Status, r.Header.Get("Retry-After"), took, r.Body)
	}
	free()
	servicetest.WaitFor(t, 10*time.Second, func() error {
		r := s.Do("GET", "/api/ledger/checkpoint?min_size="+n, servicetest.AdminSecret, nil)
		if cp := checkClaims(t, "after the release", r.Body, s.VerifierKey()); cp.Size < int64(last) {
			return fmt.Errorf("a checkpoint of %d records", cp.Size)
		}
		return nil
	})
}

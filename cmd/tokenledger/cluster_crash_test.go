package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// ledgerProc is one "tokenledger serve" child process (this test binary
// running main).
type ledgerProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed once the process exited and its log was read
	log  *strings.Builder
}

// startLedger runs "tokenledger serve" on the cluster at urls with the
// shared signing key file and waits until it serves and reports ready.
// It is killed when the test ends.
func startLedger(t *testing.T, urls, key string) *ledgerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--nats-url", urls, "--nats-replicas", "3",
		"--signing-key", key, "--allow-unsafe-durability", "--mutation-rate", "0")
	cmd.Env = append(os.Environ(), "TOKENLEDGER_TEST_RUN_MAIN=1", "INIT_ADMIN_API_TOKENS="+servicetest.AdminSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ledgerProc{cmd: cmd, done: make(chan struct{}), log: &strings.Builder{}}
	t.Cleanup(func() { p.kill() })
	serving := make(chan string, 1)
	go func() {
		defer close(p.done)
		lines := bufio.NewScanner(stderr)
		lines.Buffer(make([]byte, 64<<10), 1<<20)
		for lines.Scan() {
			var entry struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
			}
			if json.Unmarshal(lines.Bytes(), &entry) == nil && entry.Msg == "tokenledger serving" {
				serving <- entry.HTTP
			}
			if p.log.Len() < 1<<20 {
				p.log.WriteString(lines.Text() + "\n")
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case p.url = <-serving:
	case <-p.done:
		t.Fatalf("tokenledger serve exited before serving:\n%s", p.log.String())
	case <-time.After(60 * time.Second):
		t.Fatal("tokenledger serve did not serve within 60 s")
	}
	servicetest.WaitFor(t, 60*time.Second, func() error {
		resp, err := http.Get(p.url + "/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/ready: %d", resp.StatusCode)
		}
		return nil
	})
	return p
}

// kill sends SIGKILL (a crash: no shutdown code runs) and waits for the
// exit.
func (p *ledgerProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// crashOutcome is what one create answered.
type crashOutcome struct {
	key, name string
	status    int
	id        string // the token's id when acknowledged
	body      string
	kind      string // ok, failed (nothing stored) or unknown
}

// createToken sends one token create named name with Idempotency-Key key.
func createToken(base, key, name string) crashOutcome {
	body := fmt.Sprintf(`{"tokenName":%q,"type":"client","environment":"development"}`, name)
	req, _ := http.NewRequest("POST", base+"/api/admin/api-tokens", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", servicetest.AdminSecret)
	req.Header.Set("Idempotency-Key", key)
	o := crashOutcome{key: key, name: name, kind: "unknown"}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		o.body = err.Error()
		if errors.Is(err, syscall.ECONNREFUSED) {
			o.kind = "failed" // never reached the ledger
		}
		return o // a reset or timeout: the outcome is unknown
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	o.status, o.body = resp.StatusCode, string(b)
	switch {
	case (o.status == http.StatusCreated || o.status == http.StatusOK) && resp.Header.Get("Location") != "":
		loc := resp.Header.Get("Location")
		o.id, o.kind = loc[strings.LastIndex(loc, "/")+1:], "ok"
	case o.status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" && strings.Contains(o.body, "nothing was changed"):
		o.kind = "failed"
	case o.status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		o.kind = "unknown"
	default:
		o.kind = "wrong"
	}
	return o
}

// ledgerState is the state digest a replica reports to an admin.
type ledgerState struct {
	LastApplied uint64
	Digest      string
}

func stateOf(base string) (ledgerState, error) {
	req, _ := http.NewRequest("GET", base+"/health", nil)
	req.Header.Set("Authorization", servicetest.AdminSecret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return ledgerState{}, err
	}
	defer resp.Body.Close()
	var h struct{ State *ledgerState }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.State == nil {
		return ledgerState{}, fmt.Errorf("/health: %d, %v", resp.StatusCode, err)
	}
	return *h.State, nil
}

// TestKilledLedgerProcessLosesNoAcknowledgedCreateAndRebuildsTheSameState
// runs two "tokenledger serve" processes on a 3-node cluster (R3, sync
// always), sends a bounded burst of token creates through both, SIGKILLs
// one ledger process in the middle and starts it again. Each create's
// outcome is recorded (ok, failed: nothing stored, unknown) and the
// unresolved ones are retried with their key: every acknowledged create
// is in the stream exactly once (lost acknowledged = 0), no key made two
// tokens (duplicates = 0), and the restarted process reports the same
// state digest as the other at the same sequence.
func TestKilledLedgerProcessLosesNoAcknowledgedCreateAndRebuildsTheSameState(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startLedger(t, c.URLs(), key)
	b := startLedger(t, c.URLs(), key)

	var mu sync.Mutex
	bases := [2]string{a.url, b.url}
	const total, workers = 60, 4
	deadline := time.Now().Add(40 * time.Second) // bounded in time as well as count
	jobs := make(chan int)
	outs := make([]crashOutcome, total)
	sent := make([]bool, total)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				mu.Lock()
				base := bases[i%2]
				mu.Unlock()
				outs[i] = createToken(base, fmt.Sprintf("crash-key-%d", i), fmt.Sprintf("crash-%d", i))
			}
		}()
	}
	for i := range total {
		if time.Now().After(deadline) {
			break
		}
		if i == total/3 {
			a.kill() // mid-burst: requests in flight on a are cut
		}
		if i == 2*total/3 {
			restarted := startLedger(t, c.URLs(), key)
			mu.Lock()
			a, bases[0] = restarted, restarted.url
			mu.Unlock()
		}
		sent[i] = true
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	counts := map[string]int{}
	for i, o := range outs {
		if !sent[i] {
			continue
		}
		counts[o.kind]++
		if o.kind == "wrong" {
			t.Errorf("create %s answered %d: %s", o.key, o.status, o.body)
		}
	}
	t.Logf("burst of creates across a SIGKILLed ledger process: %v", counts)
	if counts["ok"] == 0 {
		t.Fatal("no create was acknowledged")
	}

	// Resolve what was not acknowledged with the same key, as a client
	// would; a key's retry must not make a second token.
	for i, o := range outs {
		if !sent[i] || o.kind == "ok" {
			continue
		}
		var r crashOutcome
		for try := 0; try < 20; try++ { // bounded
			if r = createToken(bases[try%2], o.key, o.name); r.kind == "ok" {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if r.kind != "ok" {
			t.Fatalf("retry of %s: %d %s", o.key, r.status, r.body)
		}
		outs[i] = r
	}

	// The stream itself: token.created events by token and by command.
	created, byCommand, last := readCreates(t, c)
	lost, dups := 0, 0
	for i, o := range outs {
		if !sent[i] {
			continue
		}
		switch n := created[o.id]; {
		case n == 0:
			t.Errorf("acknowledged create %s (token %s) is not in the stream", o.key, o.id)
			lost++
		case n > 1:
			dups++
		}
	}
	for cmd, n := range byCommand {
		if n > 1 {
			t.Errorf("command %s created %d tokens", cmd, n)
			dups++
		}
	}
	if lost != 0 || dups != 0 {
		t.Fatalf("lost acknowledged = %d, duplicates = %d (want 0, 0)", lost, dups)
	}

	servicetest.WaitFor(t, 30*time.Second, func() error {
		sa, err := stateOf(a.url)
		if err != nil {
			return err
		}
		sb, err := stateOf(b.url)
		if err != nil {
			return err
		}
		if sa.LastApplied != last || sb.LastApplied != last || sa.Digest != sb.Digest {
			return fmt.Errorf("restarted replica %+v, other %+v, stream at %d", sa, sb, last)
		}
		return nil
	})
}

// readCreates reads the whole LEDGER stream from the cluster and counts
// its token.created events by token id and by command id; it returns the
// stream's last sequence too.
func readCreates(t *testing.T, c *natstest.Cluster) (byToken, byCommand map[string]int, last uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	last = st.CachedInfo().State.LastSeq
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	byToken, byCommand = map[string]int{}, map[string]int{}
	for seq := uint64(0); seq < last; {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, _ := m.Metadata()
			seq = md.Sequence.Stream
			e, err := events.Unmarshal(m.Data())
			if err != nil {
				t.Fatalf("event %d: %v", seq, err)
			}
			if e.AggregateKind == events.KindToken && e.Type == events.TypeTokenCreated {
				byToken[e.AggregateID]++
				byCommand[e.CommandID]++
			}
		}
		if n == 0 {
			t.Fatalf("the stream delivered nothing after %d of %d", seq, last)
		}
	}
	return byToken, byCommand, last
}

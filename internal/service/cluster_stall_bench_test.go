package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// stallBound bounds one measurement: the election after a node is lost
// takes 4–9 s; anything beyond this is a failure, not a figure.
const stallBound = 45 * time.Second

// BenchmarkLeaderLossWriteStall measures, in the same run, what a stream
// leader's loss costs: (a) the cluster's own election of LEDGER, the time
// from the leader's stop until a new leader answers a probe publish that
// cannot be stored (sent every 20 ms, it expects an empty stream); (b) a
// raw cluster's stall, the first acknowledgement of a plain JetStream
// publisher writing in a loop to another R3 stream (RAW, which holds an
// election of its own) led by the same node; and (c) the ledger's write
// stall, the time to the first successful HTTP create of a client
// creating tokens in a loop through a replica. Probe and raw publisher
// are connected to the same node as the replica, so that all lose their
// connection, or none does. Each iteration kills (SIGKILL) the
// nats-server process leading both streams, measures, and restarts it;
// even iterations kill the node the replica is connected to ("own"), odd
// ones another ("other"). Reported: the mean of each (seconds), the
// ledger's stall over LEDGER's election and over the raw stall, overall
// and per case, and the worst of one kill's ledger stall minus its raw
// stall. Each kill's lines on stderr say where the time went: each
// writer's attempts after the kill, when the first acknowledged write was
// stored and answered, the replica's reconnect and its log.
//
//	go test -run '^$' -bench BenchmarkLeaderLossWriteStall -benchtime 6x ./internal/service/
func BenchmarkLeaderLossWriteStall(b *testing.B) {
	c := natstest.StartProcessCluster(b, 3)
	key := filepath.Join(b.TempDir(), "ledger.signing-key")
	trace := &servicetest.LogBuffer{}
	a := servicetest.StartWith(b, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, 10*time.Second
		cfg.SigningKey = key
		cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
		cfg.LogOutput = io.MultiWriter(cfg.LogOutput, trace)
	})
	nc := c.Connect()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Replicas: 3,
		Storage: jetstream.FileStorage, AllowDirect: true}); err != nil {
		b.Fatal(err)
	}

	var sum [2]struct {
		raw, ledger, probe time.Duration
		n                  int
	}
	var worstExtra time.Duration
	b.ResetTimer()
	for i := range b.N {
		own := i%2 == 0
		var m stallRun
		for try := 0; m.raw == 0 && try < 5; try++ { // bounded
			at := c.WaitStreamCurrent(nc, jsstore.DefaultStream)
			replicaAt := c.Index(a.Conn().ConnectedServerName())
			target := replicaAt
			if !own {
				target = (replicaAt + 1 + (i/2)%2) % 3
			}
			if at != target {
				lead(b, c, nc, jsstore.DefaultStream, target)
			}
			lead(b, c, nc, "RAW", target)
			where := placement(js, a)
			rawNC := c.ConnectFirst(replicaAt) // beside the replica
			m = measureStall(b, c, rawNC, a, target, i, trace)
			rawNC.Close()
			m.where = where
		}
		if m.raw == 0 {
			b.Fatal("the streams' leadership kept moving before the kill")
		}
		caseName := map[bool]string{true: "own", false: "other"}[own]
		// To stderr: a benchmark's log is cut after a few lines.
		fmt.Fprintf(os.Stderr, "iteration %d (%s node): node %s killed (%s): LEDGER's leader answered after %s, raw publisher's first ack after %s, ledger's first create after %s (load %s)\n%s",
			i, caseName, c.Name(m.killed), m.where, m.probe.Round(time.Millisecond), m.raw.Round(time.Millisecond), m.ledger.Round(time.Millisecond), loadavg(), m.explain(js))
		k := 1
		if own {
			k = 0
		}
		sum[k].raw, sum[k].ledger, sum[k].probe, sum[k].n = sum[k].raw+m.raw, sum[k].ledger+m.ledger, sum[k].probe+m.probe, sum[k].n+1
		worstExtra = max(worstExtra, m.ledger-m.raw)
		c.Restart(m.killed)
		c.WaitStreamCurrent(nc, jsstore.DefaultStream)
		c.WaitStreamCurrent(nc, "RAW")
	}
	b.StopTimer()
	raw, ledger, probe, n := sum[0].raw+sum[1].raw, sum[0].ledger+sum[1].ledger, sum[0].probe+sum[1].probe, sum[0].n+sum[1].n
	b.ReportMetric((raw / time.Duration(n)).Seconds(), "raw-stall-s")
	b.ReportMetric((probe / time.Duration(n)).Seconds(), "election-s")
	b.ReportMetric((ledger / time.Duration(n)).Seconds(), "ledger-stall-s")
	b.ReportMetric(ledger.Seconds()/raw.Seconds(), "ledger/raw")
	b.ReportMetric(ledger.Seconds()/probe.Seconds(), "ledger/election")
	for k, name := range []string{"own", "other"} {
		if sum[k].n > 0 {
			b.ReportMetric(sum[k].ledger.Seconds()/sum[k].raw.Seconds(), name+"-node-ledger/raw")
			b.ReportMetric(sum[k].ledger.Seconds()/sum[k].probe.Seconds(), name+"-node-ledger/election")
		}
	}
	b.ReportMetric(worstExtra.Seconds(), "worst-ledger-minus-raw-s")
}

// lead moves stream's leadership to node leader (step-downs naming it).
func lead(b *testing.B, c *natstest.ProcessCluster, nc *nats.Conn, stream string, leader int) {
	b.Helper()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": c.Name(leader)}})
	deadline := time.Now().Add(stallBound)
	for at := c.WaitStreamCurrent(nc, stream); at != leader; at = c.WaitStreamCurrent(nc, stream) {
		if time.Now().After(deadline) {
			b.Fatalf("%s is led by node %d, not %d", stream, at, leader)
		}
		_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, req, 2*time.Second)
		time.Sleep(200 * time.Millisecond)
	}
}

// attempt is one write of a measured writer, sent after the kill.
type attempt struct {
	sent, answered time.Time
	what           string // "ok", an HTTP status, an error
	seq            uint64 // the stored sequence of an ok
}

// stallRun is one kill's measurement and what explains it.
type stallRun struct {
	killed          int
	where           string
	at              time.Time // the kill (after the exit)
	raw, ledger     time.Duration
	probe           time.Duration // LEDGER's own leader answered the probe
	probeTries      []attempt
	rawTries        []attempt // up to the first ok
	ledgerTries     []attempt
	down, up        time.Time // the replica's connection lost and back
	upAt            string    // the node it reconnected to
	logs            string    // the replica's log lines after the kill
	rawNC, ledgerNC string    // where each writer was connected
}

// explain says where one kill's time went: each writer's attempts after
// the kill (sent, answer, duration), when the ok's event was stored by
// the new leader, the replica's reconnect, and its log lines.
func (m stallRun) explain(js jetstream.JetStream) string {
	rel := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("+%.3fs", t.Sub(m.at).Seconds())
	}
	var out strings.Builder
	tries := func(name, stream string, as []attempt) {
		fmt.Fprintf(&out, "  %s (on %s):", name, map[string]string{"raw": m.rawNC, "probe": m.rawNC, "ledger": m.ledgerNC}[name])
		for _, a := range as {
			fmt.Fprintf(&out, " [%s %s %.3fs]", rel(a.sent), a.what, a.answered.Sub(a.sent).Seconds())
		}
		if n := len(as); n > 0 && as[n-1].seq > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if st, err := js.Stream(ctx, stream); err == nil {
				if msg, err := st.GetMsg(ctx, as[n-1].seq); err == nil {
					fmt.Fprintf(&out, " ok's seq %d stored %s, answered %s", as[n-1].seq, rel(msg.Time), rel(as[n-1].answered))
				}
			}
		}
		out.WriteString("\n")
	}
	tries("probe", "", m.probeTries)
	tries("raw", "RAW", m.rawTries)
	tries("ledger", jsstore.DefaultStream, m.ledgerTries)
	fmt.Fprintf(&out, "  replica's connection: lost %s, back %s on %s\n", rel(m.down), rel(m.up), m.upAt)
	out.WriteString(m.logs)
	return out.String()
}

// logsAfter is the replica's JSON log lines logged after t (their time
// relative to t, message, and error), at most limit of them.
func logsAfter(all string, t time.Time, limit int) string {
	var out strings.Builder
	n := 0
	for _, line := range strings.Split(all, "\n") {
		var l struct {
			Time  time.Time `json:"time"`
			Msg   string    `json:"msg"`
			Err   string    `json:"err"`
			Level string    `json:"level"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || !l.Time.After(t) || l.Msg == "request" {
			continue
		}
		if n++; n > limit {
			continue
		}
		fmt.Fprintf(&out, "  log +%.3fs %s %s: %.160s\n", l.Time.Sub(t).Seconds(), l.Level, l.Msg, l.Err)
	}
	if n > limit {
		fmt.Fprintf(&out, "  (%d more log lines)\n", n-limit)
	}
	return out.String()
}

// measureStall runs the two writers, stops node leader once both wrote,
// and returns how long each waited for its first success after the stop,
// counting only requests sent after it: a create acknowledged before the
// kill may be answered after it (its event applied), which is no write
// through the new leader.
func measureStall(b *testing.B, c *natstest.ProcessCluster, rawNC *nats.Conn, a *servicetest.Service, leader, iter int, trace *servicetest.LogBuffer) stallRun {
	b.Helper()
	js, err := jetstream.New(rawNC)
	if err != nil {
		b.Fatal(err)
	}
	m := stallRun{killed: leader, rawNC: rawNC.ConnectedServerName(), ledgerNC: a.Conn().ConnectedServerName()}
	var mu sync.Mutex
	var killed, rawOK, ledgerOK, probeOK time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { // the raw publisher
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			sent := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ack, err := js.Publish(ctx, "raw.x", []byte("x"))
			cancel()
			now := time.Now()
			mu.Lock()
			if !killed.IsZero() && sent.After(killed) && rawOK.IsZero() {
				t := attempt{sent: sent, answered: now, what: "ok"}
				if err != nil {
					t.what = err.Error()
				} else {
					t.seq, rawOK = ack.Sequence, now
				}
				m.rawTries = append(m.rawTries, t)
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	// The probe of LEDGER's own election: every 20 ms a publish that
	// cannot be stored (it expects an empty stream), answered with "wrong
	// last sequence" once a leader takes writes.
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			sent := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := js.Publish(ctx, events.SubjectPrefix+".stall-probe", nil, jetstream.WithExpectLastSequence(0),
				jetstream.WithRetryAttempts(0))
			cancel()
			now := time.Now()
			var apiErr *jetstream.APIError
			answered := errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
			mu.Lock()
			if !killed.IsZero() && sent.After(killed) && probeOK.IsZero() {
				t := attempt{sent: sent, answered: now, what: "ok"}
				if answered {
					probeOK = now
				} else {
					t.what = fmt.Sprint(err)
				}
				m.probeTries = append(m.probeTries, t)
			}
			mu.Unlock()
			if err == nil {
				close(stop) // stored: the probe is broken
				return
			}
			if !answered {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	go func() { // the ledger's client
		defer wg.Done()
		for j := 0; ; j++ {
			select {
			case <-stop:
				return
			default:
			}
			sent := time.Now()
			o := create(a.URL(), fmt.Sprintf("stall-%d-%d", iter, j), iter*100000+j)
			mu.Lock()
			if !killed.IsZero() && sent.After(killed) && ledgerOK.IsZero() {
				t := attempt{sent: sent, answered: o.at, what: kind(o)}
				if o.status != 0 {
					t.what = fmt.Sprint(o.status)
				}
				if kind(o) == "ok" {
					t.what, ledgerOK = "ok", o.at
					t.seq, _ = strconv.ParseUint(o.seq, 10, 64)
				}
				m.ledgerTries = append(m.ledgerTries, t)
			}
			mu.Unlock()
			if kind(o) != "ok" {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	go func() { // the replica's connection state
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			st := a.Conn().Status()
			mu.Lock()
			if !killed.IsZero() {
				switch {
				case st != nats.CONNECTED && m.down.IsZero():
					m.down = time.Now()
				case st == nats.CONNECTED && !m.down.IsZero() && m.up.IsZero():
					m.up, m.upAt = time.Now(), a.Conn().ConnectedServerName()
				}
			}
			mu.Unlock()
		}
	}()
	time.Sleep(500 * time.Millisecond) // both write before the stop
	nc := c.Connect()
	defer nc.Close()
	if l, r := c.WaitStreamCurrent(nc, jsstore.DefaultStream), c.WaitStreamCurrent(nc, "RAW"); l != leader || r != leader {
		close(stop)
		wg.Wait()
		return stallRun{} // leadership moved meanwhile: the caller measures again
	}
	c.Kill(leader)
	mu.Lock()
	killed = time.Now() // after the exit: nothing the old leader sends counts
	m.at = killed
	mu.Unlock()
	deadline := time.Now().Add(stallBound)
	for {
		mu.Lock()
		done := !rawOK.IsZero() && !ledgerOK.IsZero() && !probeOK.IsZero()
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			b.Fatalf("no success within %s of the stop: raw %v, ledger %v", stallBound, !rawOK.IsZero(), !ledgerOK.IsZero())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	m.raw, m.ledger, m.probe = rawOK.Sub(killed), ledgerOK.Sub(killed), probeOK.Sub(killed)
	m.logs = logsAfter(trace.String(), killed, 40)
	return m
}

// loadavg is the first field of /proc/loadavg ("?" where there is none).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) == 0 {
		return "?"
	}
	var l string
	_, _ = fmt.Sscan(string(b), &l)
	return l
}

// placement says where the replica's NATS connection and the LEDGER
// stream's consumers (the projections' among them) are before a kill: a
// kill of the node holding either costs the ledger more than the raw
// publisher.
func placement(js jetstream.JetStream, a *servicetest.Service) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var on []string
	if st, err := js.Stream(ctx, jsstore.DefaultStream); err == nil {
		for ci := range st.ListConsumers(ctx).Info() {
			if ci.Cluster != nil {
				on = append(on, ci.Cluster.Leader)
			}
		}
	}
	return fmt.Sprintf("replica connected to %s, consumers on %v", a.Conn().ConnectedServerName(), on)
}

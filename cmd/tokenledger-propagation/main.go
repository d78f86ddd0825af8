// Command tokenledger-propagation measures how fast a revocation reaches
// the services that follow the ledger: it revokes tokens over HTTP (DELETE
// /api/admin/api-tokens/{id}) on a running ledger while 1, 10 and 50
// listeners follow its NATS token feed as a reader, and reports p50 and p99
// of the time from the DELETE being sent to the last listener having it:
//
//   - plain NATS subscribers of ledger.token.*.revoked (each its own
//     connection), until the last one received the revocation's message;
//   - embedded verifiers (projections/verifier, each its own connection),
//     until the last one rejects the token.
//
// Every run is bounded in revocations and in time. Run a ledger with a
// reader and without the mutation rate limit (it would throttle the
// creates and deletes), then:
//
//	TOKENLEDGER_TOKEN='<admin secret>' tokenledger-propagation --nkey-seed reader.seed --revocations 200
//
// or let it start a ledger of its own (this executable run as "tokenledger
// serve" in a child process, on a fresh data dir and free loopback ports,
// removed after the run):
//
//	tokenledger-propagation --spawn --listeners 10 --revocations 200
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == serveArg {
		if err := serveLedger(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "tokenledger-propagation: ledger:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tokenledger-propagation:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	server, natsURL, seed string
	token                 string
	listeners             []int
	revocations           int
	timeout, maxDuration  time.Duration
	kinds                 []string
	spawn                 bool
	cpuProfile            string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenledger-propagation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var listeners, kinds string
	fs.StringVar(&o.server, "server", "http://127.0.0.1:4242", "the ledger's HTTP address")
	fs.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "the ledger's NATS listener")
	fs.StringVar(&o.seed, "nkey-seed", "", "file holding a reader's nkey seed (required)")
	fs.StringVar(&listeners, "listeners", "1,10,50", "listener counts to measure, comma-separated")
	fs.StringVar(&kinds, "kinds", "subscribers,verifiers", "what listens: subscribers, verifiers or both")
	fs.IntVar(&o.revocations, "revocations", 100, "revocations measured per listener count and kind")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "longest wait for one revocation to reach every listener")
	fs.DurationVar(&o.maxDuration, "max-duration", 10*time.Minute, "the whole run stops after this")
	fs.BoolVar(&o.spawn, "spawn", false, "start a ledger of its own (a child process on a fresh data dir; --server, --nats-url, --nkey-seed and TOKENLEDGER_TOKEN are then not used)")
	fs.StringVar(&o.cpuProfile, "ledger-cpu-profile", "", "with --spawn: the spawned ledger writes its CPU profile to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.token = getenv("TOKENLEDGER_TOKEN")
	if !o.spawn && (o.token == "" || o.seed == "") {
		return errors.New("TOKENLEDGER_TOKEN (an admin token) and --nkey-seed are required")
	}
	if o.cpuProfile != "" && !o.spawn {
		return errors.New("--ledger-cpu-profile needs --spawn (a ledger of its own)")
	}
	for _, s := range strings.Split(listeners, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 60 {
			return fmt.Errorf("--listeners: %q is not a count from 1 to 60 (a reader may hold 64 connections)", s)
		}
		o.listeners = append(o.listeners, n)
	}
	for _, k := range strings.Split(kinds, ",") {
		if k != "subscribers" && k != "verifiers" {
			return fmt.Errorf("--kinds: %q is neither subscribers nor verifiers", k)
		}
		o.kinds = append(o.kinds, k)
	}
	if o.revocations < 1 || o.revocations > 10000 {
		return errors.New("--revocations must be from 1 to 10000")
	}
	ctx, cancel := context.WithTimeout(ctx, o.maxDuration)
	defer cancel()
	var child *spawned
	if o.spawn {
		var err error
		if child, err = spawnLedger(ctx, &o); err != nil {
			return err
		}
		defer func() {
			if err := child.stop(); err != nil {
				fmt.Fprintln(stderr, "tokenledger-propagation:", err)
			}
		}()
	}
	// After the table, a blank line, then the load and, with --spawn, the
	// ledger's CPU per revocation.
	notes := []string{"load average (1, 5, 15 min) at the start: " + loadavg()}
	defer func() {
		notes = append(notes, "load average at the end: "+loadavg())
		fmt.Fprintf(stdout, "\n%s\n", strings.Join(notes, "\n"))
	}()
	l := &ledgerClient{base: strings.TrimSuffix(o.server, "/"), token: o.token, http: &http.Client{Timeout: 30 * time.Second}}

	const row = "%9v  %-11s  %11v  %9s  %9s  %9s  %17s  %17s  %9s  %9s\n"
	fmt.Fprintf(stdout, row, "listeners", "kind", "revocations", "p50", "p99", "max", "DELETE answer p50", "DELETE answer p99",
		"floor p50", "floor p99")
	for _, kind := range o.kinds {
		for _, n := range o.listeners {
			cpu0 := childCPU(child)
			r, err := measure(ctx, l, o, kind, n)
			if err != nil {
				return fmt.Errorf("%d %s: %w", n, kind, err)
			}
			lat := r.lat
			if len(lat) > 0 {
				per := float64(len(lat) * n)
				notes = append(notes, fmt.Sprintf("%d %s: per revocation cycle per listener, %.2f messages received, %.2f sent (requests)",
					n, kind, float64(r.received)/per, float64(r.sent)/per))
			}
			if child != nil && len(lat) > 0 {
				notes = append(notes, fmt.Sprintf("%d %s: the ledger's CPU %.0f µs per revocation (its create, lookup and DELETE included)",
					n, kind, (childCPU(child)-cpu0)*1e6/float64(len(lat))))
			}
			fmt.Fprintf(stdout, row, n, kind, len(lat), ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(percentile(lat, 100)),
				ms(percentile(r.answered, 50)), ms(percentile(r.answered, 99)), ms(percentile(r.floor, 50)), ms(percentile(r.floor, 99)))
		}
	}
	return nil
}

// childCPU is the spawned ledger's CPU seconds so far (0 without one).
func childCPU(s *spawned) float64 {
	if s == nil {
		return 0
	}
	return cpuSeconds(s.cmd.Process.Pid)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}

// arrival is a listener having a token's revocation.
type arrival struct {
	token string
	at    time.Time
}

// result is one row's measurements.
type result struct {
	// lat is, per revocation, the time from the DELETE being sent to the
	// last listener having it; answered to the DELETE's answer (the
	// revocation stored, fsynced and applied by the ledger's projections,
	// its tree head signed).
	lat, answered []time.Duration
	// floor is, per revocation, a raw fsynced publish reaching n plain
	// subscribers (see [floor]), measured right after it.
	floor []time.Duration
	// sent is how many messages the listeners' connections published
	// (requests: a verifier's Direct Gets) during the revocations,
	// received how many they received.
	sent, received uint64
}

// measure revokes o.revocations tokens while n listeners of kind follow,
// each followed by one sample of the floor.
func measure(ctx context.Context, l *ledgerClient, o options, kind string, n int) (res result, err error) {
	fl, err := startFloor(ctx, o.seed, n)
	if err != nil {
		return res, err
	}
	defer fl.close()
	arrivals := make(chan arrival, 64*n)
	var ready func(ctx context.Context, seq uint64) error
	var closeAll func()
	var all []*nats.Conn // every listener's connection
	defer func() {
		for _, nc := range all {
			st := nc.Stats()
			res.sent += st.OutMsgs
			res.received += st.InMsgs
		}
	}()
	switch kind {
	case "subscribers":
		var conns []*nats.Conn
		closeAll = func() {
			for _, nc := range conns {
				nc.Close()
			}
		}
		for range n {
			nc, err := dialRetrying(ctx, func() (*nats.Conn, error) {
				return verifier.Connection{URL: o.natsURL, NkeySeedFile: o.seed, Name: "propagation-subscriber"}.Dial()
			})
			if err != nil {
				closeAll()
				return res, err
			}
			conns, all = append(conns, nc), append(all, nc)
			// What nats sub 'ledger.token.*.revoked' does; only the feed's
			// own messages count (feed.IsWakeUp).
			if _, err := nc.Subscribe("ledger.token.*.revoked", func(m *nats.Msg) {
				if feed.IsWakeUp(m) {
					arrive(arrivals, strings.Split(m.Subject, ".")[2])
				}
			}); err != nil {
				closeAll()
				return res, err
			}
			if err := nc.Flush(); err != nil {
				closeAll()
				return res, err
			}
		}
		ready = func(context.Context, uint64) error { return nil }
	case "verifiers":
		var vs []*verifier.Verifier
		var conns []*nats.Conn
		closeAll = func() {
			for _, v := range vs {
				_ = v.Close()
			}
			for _, nc := range conns {
				nc.Close()
			}
		}
		for range n {
			nc, err := dialRetrying(ctx, func() (*nats.Conn, error) {
				return verifier.Connection{URL: o.natsURL, NkeySeedFile: o.seed, Name: "propagation-verifier"}.Dial()
			})
			if err != nil {
				closeAll()
				return res, err
			}
			v := verifier.Start(nc, verifier.Config{OnRevoke: func(c verifier.Change) {
				// Called once the set applied the revocation: from this
				// moment Verify rejects the token.
				if !c.Replayed {
					arrive(arrivals, c.Token.ID)
				}
			}})
			vs, conns, all = append(vs, v), append(conns, nc), append(all, nc)
		}
		// The first replay of the feed is not what is measured.
		for _, v := range vs {
			select {
			case <-v.Ready():
			case <-ctx.Done():
				closeAll()
				return res, ctx.Err()
			}
		}
		ready = func(ctx context.Context, seq uint64) error {
			for _, v := range vs {
				if err := v.WaitFor(ctx, seq); err != nil {
					return err
				}
			}
			return nil
		}
	}
	defer closeAll()
	for _, nc := range all { // not what they sent and received before: the first replay
		st := nc.Stats()
		res.sent -= st.OutMsgs
		res.received -= st.InMsgs
	}

	for i := range o.revocations {
		if ctx.Err() != nil {
			break // bounded in time: report what was measured
		}
		id, seq, err := l.createToken(ctx, fmt.Sprintf("propagation-%d-%s-%d", n, kind, i))
		if err != nil {
			return res, err
		}
		wctx, cancel := context.WithTimeout(ctx, o.timeout)
		err = ready(wctx, seq) // every verifier knows the token
		cancel()
		if err != nil {
			return res, fmt.Errorf("listeners did not learn of token %s: %w", id, err)
		}
		drain(arrivals)
		sent := time.Now()
		if err := l.revoke(ctx, id); err != nil {
			return res, err
		}
		res.answered = append(res.answered, time.Since(sent))
		last, err := waitAll(ctx, arrivals, id, n, o.timeout)
		if err != nil {
			return res, err
		}
		res.lat = append(res.lat, last.Sub(sent))
		f, err := fl.sample(ctx, i, o.timeout)
		if err != nil {
			return res, err
		}
		res.floor = append(res.floor, f)
	}
	return res, nil
}

// dialRetrying makes a reader connection, trying again a few times: on a
// loaded machine a sign-in can miss the server's one-second auth timeout.
func dialRetrying(ctx context.Context, dial func() (*nats.Conn, error)) (*nats.Conn, error) {
	var err error
	for range 5 {
		var nc *nats.Conn
		if nc, err = dial(); err == nil {
			return nc, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, err
}

// arrive records an arrival now, without ever blocking the listener (the
// channel holds far more than one revocation's arrivals, and is drained
// before each).
func arrive(c chan arrival, token string) {
	select {
	case c <- arrival{token: token, at: time.Now()}:
	default:
	}
}

// drain empties c of earlier tokens' arrivals.
func drain(c chan arrival) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// waitAll waits until n arrivals of token came in, and returns the last
// one's time.
func waitAll(ctx context.Context, c chan arrival, token string, n int, timeout time.Duration) (time.Time, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var last time.Time
	for got := 0; got < n; {
		select {
		case a := <-c:
			if a.token == token {
				got++
				last = a.at
			}
		case <-timer.C:
			return time.Time{}, fmt.Errorf("only %d of %d listeners had the revocation of %s after %s", got, n, token, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	return last, nil
}

// ledgerClient is the ledger's HTTP API as an admin.
type ledgerClient struct {
	base, token string
	http        *http.Client
}

func (l *ledgerClient) do(ctx context.Context, method, path string, body any, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", l.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s (run the ledger with --mutation-rate 0 for this measurement)", method, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// createToken creates a backend token and returns its id and the ledger
// sequence of its creation.
func (l *ledgerClient) createToken(ctx context.Context, name string) (string, uint64, error) {
	var created struct {
		Secret string `json:"secret"`
	}
	h, err := l.do(ctx, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": name, "type": "backend",
		"environment": "development", "projects": []string{"default"}}, &created)
	if err != nil {
		return "", 0, err
	}
	seq, _ := strconv.ParseUint(h.Get("X-Ledger-Sequence"), 10, 64)
	var found struct {
		Token struct {
			ID string `json:"id"`
		} `json:"token"`
	}
	if _, err := l.do(ctx, "POST", "/api/ledger/tokens/lookup", map[string]string{"secret": created.Secret}, &found); err != nil {
		return "", 0, err
	}
	return found.Token.ID, seq, nil
}

func (l *ledgerClient) revoke(ctx context.Context, id string) error {
	_, err := l.do(ctx, "DELETE", "/api/admin/api-tokens/"+id, nil, nil)
	return err
}

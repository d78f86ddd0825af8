package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// stallBound bounds one measurement: the election after a node is lost
// takes 4–9 s; anything beyond this is a failure, not a figure.
const stallBound = 45 * time.Second

// BenchmarkLeaderLossWriteStall measures, in the same run, what a stream
// leader's loss costs: (a) the raw cluster's stall, the time from the
// leader's stop to the first acknowledgement of a plain JetStream
// publisher writing in a loop to an R3 stream led by the same node, and
// (b) the ledger's write stall, the time to the first successful HTTP
// create of a client creating tokens in a loop through a replica. Each
// iteration kills (SIGKILL) the nats-server process leading both
// streams, measures, and restarts it. Reported: the mean of each (seconds),
// ledger/raw, and the worst of one kill's ledger stall minus its raw stall.
//
//	go test -run '^$' -bench BenchmarkLeaderLossWriteStall -benchtime 3x ./internal/service/
func BenchmarkLeaderLossWriteStall(b *testing.B) {
	c := natstest.StartProcessCluster(b, 3)
	key := filepath.Join(b.TempDir(), "ledger.signing-key")
	a := servicetest.StartWith(b, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, 10*time.Second
		cfg.SigningKey = key
		cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
	})
	nc := c.Connect()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Replicas: 3,
		Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}

	var rawSum, ledgerSum, worstExtra time.Duration
	n := 0
	b.ResetTimer()
	for i := range b.N {
		var leader int
		var raw, ledger time.Duration
		var where string
		for try := 0; raw == 0 && try < 5; try++ { // bounded
			leader = c.WaitStreamCurrent(nc, jsstore.DefaultStream)
			leadBoth(b, c, nc, leader)
			where = placement(js, a)
			raw, ledger = measureStall(b, c, js, a, leader, i)
		}
		if raw == 0 {
			b.Fatal("the streams' leadership kept moving before the kill")
		}
		b.Logf("iteration %d: node %s killed (%s): raw publisher's first ack after %s, ledger's first create after %s (load %s)",
			i, c.Name(leader), where, raw.Round(time.Millisecond), ledger.Round(time.Millisecond), loadavg())
		rawSum, ledgerSum, n = rawSum+raw, ledgerSum+ledger, n+1
		worstExtra = max(worstExtra, ledger-raw)
		c.Restart(leader)
		c.WaitStreamCurrent(nc, jsstore.DefaultStream)
		c.WaitStreamCurrent(nc, "RAW")
	}
	b.StopTimer()
	b.ReportMetric((rawSum / time.Duration(n)).Seconds(), "raw-stall-s")
	b.ReportMetric((ledgerSum / time.Duration(n)).Seconds(), "ledger-stall-s")
	b.ReportMetric(ledgerSum.Seconds()/rawSum.Seconds(), "ledger/raw")
	b.ReportMetric(worstExtra.Seconds(), "worst-ledger-minus-raw-s")
}

// leadBoth moves the RAW stream's leadership to node leader (a step-down
// naming it), so that one stop takes the leader of both streams.
func leadBoth(b *testing.B, c *natstest.ProcessCluster, nc *nats.Conn, leader int) {
	b.Helper()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": c.Name(leader)}})
	deadline := time.Now().Add(stallBound)
	for at := c.WaitStreamCurrent(nc, "RAW"); at != leader; at = c.WaitStreamCurrent(nc, "RAW") {
		if time.Now().After(deadline) {
			b.Fatalf("RAW is led by node %d, not %d", at, leader)
		}
		_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.RAW", req, 2*time.Second)
		time.Sleep(200 * time.Millisecond)
	}
}

// measureStall runs the two writers, stops node leader once both wrote,
// and returns how long each waited for its first success after the stop,
// counting only requests sent after it: a create acknowledged before the
// kill may be answered after it (its event applied), which is no write
// through the new leader.
func measureStall(b *testing.B, c *natstest.ProcessCluster, js jetstream.JetStream, a *servicetest.Service, leader, iter int) (raw, ledger time.Duration) {
	b.Helper()
	var mu sync.Mutex
	var killed, rawOK, ledgerOK time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
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
			_, err := js.Publish(ctx, "raw.x", []byte("x"))
			cancel()
			now := time.Now()
			mu.Lock()
			if err == nil && !killed.IsZero() && sent.After(killed) && rawOK.IsZero() {
				rawOK = now
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(10 * time.Millisecond)
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
			if kind(o) == "ok" && !killed.IsZero() && sent.After(killed) && ledgerOK.IsZero() {
				ledgerOK = o.at
			}
			mu.Unlock()
			if kind(o) != "ok" {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // both write before the stop
	nc := c.Connect()
	if l, r := c.WaitStreamCurrent(nc, jsstore.DefaultStream), c.WaitStreamCurrent(nc, "RAW"); l != leader || r != leader {
		close(stop)
		wg.Wait()
		return 0, 0 // leadership moved meanwhile: the caller measures again
	}
	c.Kill(leader)
	mu.Lock()
	killed = time.Now() // after the exit: nothing the old leader sends counts
	mu.Unlock()
	deadline := time.Now().Add(stallBound)
	for {
		mu.Lock()
		done := !rawOK.IsZero() && !ledgerOK.IsZero()
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
	return rawOK.Sub(killed), ledgerOK.Sub(killed)
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

package jsstore_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// BenchmarkReaderFanOut measures one message published by the ledger's
// feed connection reaching 10 reader subscribers (each its own
// connection), through the front and through the same server's own TCP
// listener, in the same run; cpu-µs/msg is the process's CPU (server,
// front and subscribers) per message:
//
//	go test -run '^$' -bench ReaderFanOut -count 3 ./internal/jsstore/
func BenchmarkReaderFanOut(b *testing.B) {
	const subscribers = 10
	srv, front := startReaderBench(b, 1)
	feedConn, err := nats.Connect(srv.ClientURL(), nats.UserInfo(jsstore.FeedUser, "feed-pw"), nats.CustomInboxPrefix(jsstore.FeedInboxPrefix))
	if err != nil {
		b.Fatal(err)
	}
	defer feedConn.Close()
	payload := make([]byte, 600) // about a feed event
	for _, bb := range []struct{ name, url string }{
		{"listener=server", srv.ClientURL()},
		{"listener=front", front.ClientURL()},
	} {
		b.Run(bb.name, func(b *testing.B) {
			got := make(chan struct{}, 64*subscribers)
			for range subscribers {
				nc, err := nats.Connect(bb.url, nats.UserInfo(readerName, readerPW))
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				if _, err := nc.Subscribe(feed.HeartbeatSubject, func(*nats.Msg) { got <- struct{}{} }); err != nil {
					b.Fatal(err)
				}
				if err := nc.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			cpu0 := cpuNow()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := feedConn.Publish(feed.HeartbeatSubject, payload); err != nil {
					b.Fatal(err)
				}
				for range subscribers {
					select {
					case <-got:
					case <-time.After(10 * time.Second):
						b.Fatal("a subscriber missed a message")
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

// cpuNow is the process's CPU time so far (user and system).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

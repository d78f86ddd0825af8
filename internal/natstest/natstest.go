package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readyTimeout bounds how long a server may take to accept connections.
const readyTimeout = 10 * time.Second

// RunServer starts a JetStream server whose store lives in tb.TempDir().
// It fails the test if the server does not become ready. The server is
// shut down when the test ends.
func RunServer(tb testing.TB) *server.Server {
	tb.Helper()
	return RunServerAt(tb, tb.TempDir())
}

// RunServerAt starts a JetStream server storing its data in dir. Start a
// second server on the same dir after shutting down the first to test
// restarts; each server is shut down (again, harmlessly) when the test ends.
func RunServerAt(tb testing.TB, dir string) *server.Server {
	tb.Helper()
	return RunServerWith(tb, dir, nil)
}

// RunServerWith is RunServerAt with a change to the server's options
// before it starts (users and permissions, limits, accounts).
func RunServerWith(tb testing.TB, dir string, change func(*server.Options)) *server.Server {
	tb.Helper()
	opts := &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: false,
	}
	if change != nil {
		change(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("natstest: new server: %v", err)
	}
	s.Start()
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(readyTimeout) {
		tb.Fatalf("natstest: server not ready after %s", readyTimeout)
	}
	if !s.JetStreamEnabled() {
		tb.Fatal("natstest: JetStream not enabled")
	}
	return s
}

// Connect opens a client connection to s over loopback TCP. The connection
// is closed when the test ends.
func Connect(tb testing.TB, s *server.Server, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		tb.Fatalf("natstest: connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

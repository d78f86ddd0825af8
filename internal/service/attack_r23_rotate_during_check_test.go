package service_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// onLine is a log writer that runs do once, synchronously, when a line
// holding marker is written (the writer blocks the logging goroutine
// meanwhile, so the logging code goes on only after do).
type onLine struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker []byte
	do     func()
	done   bool
}

func (w *onLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && bytes.Contains(p, w.marker) {
		w.done = true
		w.do()
	}
	return w.buf.Write(p)
}

func (w *onLine) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// checkBeforeRotating reads the stream's last sequence, then replays the
// stream up to it; rotate's append of key.rotated expects only the key
// aggregate's last sequence. On a cluster (--nats-url) anyone who can
// publish into the stream (the threat TestForgedAdminTokenPublishedLive…
// covers) has the whole check, half a minute a million events, to plant
// an event after the sequence it reads: the check never sees it, the
// start chains its rotation after it and replaces the key file, and only
// the replay after names the forgery. The rotation must cover every event
// before it. Found (atk-r23).
func TestTheStartNeverRotatesPastAnEventAppendedDuringItsCheck(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServer(t)
	dir := filepath.Join(t.TempDir(), "data")
	cluster := func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true // a test server: fsync unproven
	}
	s := servicetest.StartWith(t, dir, nil, cluster)
	subject, data := forgeAdminToken(t, s, mallory)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	keyFile := ledgerkey.DefaultFile(dir)
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	var planted uint64
	logs := &onLine{marker: []byte("checking every event's signature before rotating the signing key"), do: func() {
		ack, err := js.Publish(context.Background(), subject, data)
		if err != nil {
			t.Error(err)
			return
		}
		planted = ack.Sequence
	}}
	cfg := servicetest.Config(dir, nil, logs)
	cluster(&cfg)
	cfg.RotateSigningKey = true
	m := service.NewMain(cfg)
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := m.Run(ctx)
	t.Logf("start with --rotate-signing-key, a forged token.created published during its check at %d: %v", planted, runErr)
	if planted == 0 {
		t.Fatalf("nothing planted during the check:\n%s", logs.String())
	}
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Errorf("the start rotated the signing key past the forged event published during its check (sequence %d)", planted)
	}
	if _, err := os.Stat(keyFile + ".next"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.next after the refused rotation: %v, want none", keyFile, err)
	}
	if m.Store != nil {
		rotations, err := m.Store.Load(ctx, events.KindLog, events.KeyAggregate)
		if err != nil || len(rotations) != 0 {
			t.Errorf("key.rotated events after the start: %d (%v), want none", len(rotations), err)
		}
	}
	if runErr == nil {
		t.Error("the start with --rotate-signing-key succeeded, want it refused")
	}
}

package natstest_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

func TestRunServer(t *testing.T) {
	s := natstest.RunServer(t)
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" || u.Port() == "4222" {
		t.Fatalf("client URL %s, want 127.0.0.1 on a random port", u)
	}
	jc := s.JetStreamConfig()
	if jc == nil || jc.SyncAlways {
		t.Fatalf("JetStream config %+v, want JetStream with SyncAlways off", jc)
	}
	js, err := jetstream.New(natstest.Connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream not usable: %v", err)
	}
}

func TestRunServerAtKeepsDataAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s1 := natstest.RunServerAt(t, dir)
	nc1 := natstest.Connect(t, s1)
	js1, _ := jetstream.New(nc1)
	if _, err := js1.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js1.Publish(ctx, "s", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc1.Close()
	s1.Shutdown()
	s1.WaitForShutdown()

	s2 := natstest.RunServerAt(t, dir)
	js2, _ := jetstream.New(natstest.Connect(t, s2))
	st, err := js2.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("stream holds %d messages after the restart, want 1", n)
	}
}

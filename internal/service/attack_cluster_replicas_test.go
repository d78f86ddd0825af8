package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The durability guard checks the stream's replica count at start-up
// only. Someone with the ledger's credentials (a second connection) cuts
// the running ledger's stream on a 3-node cluster to one replica: losing
// that one server now loses acknowledged events, exactly what the guard
// refuses at start-up. The running ledger must notice, as it notices an
// age limit (MakeStreamUnsafe): its store reports unhealthy and refuses
// writes.
func TestRunningLedgerNoticesItsStreamCutToOneReplica(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	s := servicetest.StartWith(t, "", nil, func(cfg *service.Config) { cfg.NATSURL = c.URLs() })
	js, err := jetstream.New(c.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if cfg.Replicas != 3 {
		t.Fatalf("the stream has %d replicas on a 3-node cluster, want 3", cfg.Replicas)
	}
	cfg.Replicas = 1
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	servicetest.WaitFor(t, 15*time.Second, func() error {
		if s.Store.Health() == nil {
			return errors.New("the running ledger did not notice its stream cut to 1 replica on a 3-node cluster")
		}
		return nil
	})
}

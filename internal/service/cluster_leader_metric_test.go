package service_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestStreamLeaderChangesAreCounted: a replica on a cluster counts the
// changes of the stream's leader in tokenledger_nats_leader_changes_total;
// a step-down that moves the leadership to another node makes it grow,
// and the replica's NATS connection state stays "connected".
func TestStreamLeaderChangesAreCounted(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	a := startReplica(t, c, filepath.Join(t.TempDir(), "ledger.signing-key"))
	nc := c.Connect()
	leader := c.WaitStreamCurrent(nc, jsstore.DefaultStream)
	before := metricValue(t, a.URL(), "tokenledger_nats_leader_changes_total")

	next := c.Name((leader + 1) % c.Size())
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": next}})
	if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+jsstore.DefaultStream, req, 5*time.Second); err != nil {
		t.Fatalf("step down: %v", err)
	}
	servicetest.WaitFor(t, 20*time.Second, func() error {
		if got := metricValue(t, a.URL(), "tokenledger_nats_leader_changes_total"); got == before {
			return fmt.Errorf("leader changes still %s after the leadership moved to %s", got, next)
		}
		return nil
	})
	if _, body := get(t, a.URL(), "/metrics"); !regexpMatch(`tokenledger_nats_connection_state\{state="connected"\} 1`, body) {
		t.Fatal("the NATS connection state is not reported connected")
	}
}

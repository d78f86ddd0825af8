package service_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/internal/natstest"
)

// TestPartitionedReplicaRefusesWritesAndSaysHowStaleItsReadsAre cuts
// one of two replicas off the cluster: its only NATS connection (through
// a loopback proxy) is closed and new ones are refused, which the replica
// learns at once. See [checkPartitionedReplica] for what is checked.
func TestPartitionedReplicaRefusesWritesAndSaysHowStaleItsReadsAre(t *testing.T) {
	checkPartitionedReplica(t, "part", (*natstest.Proxy).Cut, 0)
}

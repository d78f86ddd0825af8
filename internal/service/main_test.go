package service_test

import (
	"os"
	"testing"

	"github.com/tokenledger/tokenledger/internal/natstest"
)

// TestMain lets this test binary serve as a nats-server child process of
// a natstest.ProcessCluster (the stall benchmark kills nodes with SIGKILL).
func TestMain(m *testing.M) {
	natstest.RunChildIfAsked()
	os.Exit(m.Run())
}

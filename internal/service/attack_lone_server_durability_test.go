package service_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
)

// Issue 17's guard: with --nats-url the ledger "refuses to start when
// acknowledged writes could be lost, or starts with a loud warning when
// --allow-unsafe-durability is given". A lone nats-server with the
// default fsync (every 2 minutes) and the stream at its only possible
// replica is that case: one crash loses what it acknowledged (Jepsen,
// NATS 2.12.1). Without --nats-system-url the ledger cannot read the sync
// setting, and starts anyway with a WARN ("cannot verify"): the guard is
// opt-in, and an unknown durability is treated as safe. It must refuse
// unless the durability is proven (--nats-system-url) or explicitly
// waived (--allow-unsafe-durability).
func TestLoneServerWithUnprovenDurabilityIsRefused(t *testing.T) {
	srv := natstest.RunServer(t) // default sync interval
	logs, err := tryStart(t, func(c *service.Config) { c.NATSURL = srv.ClientURL() })
	if err == nil {
		t.Errorf("the ledger started on a lone nats-server whose sync setting it could not read, without --allow-unsafe-durability:\n%s", logs)
	}
}

package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
)

// With --nats-url and no --nats-system-url the ledger cannot read the
// servers' sync setting: it refuses to start, naming both ways out (a
// system-account user to prove it, or --allow-unsafe-durability), and
// starts with the waiver, saying so at ERROR.
func TestUnprovenDurabilityNamesBothWaysOut(t *testing.T) {
	srv := natstest.RunServer(t)
	for _, tc := range []struct {
		name   string
		unsafe bool
	}{{"refused", false}, {"waived", true}} {
		t.Run(tc.name, func(t *testing.T) {
			logs, err := tryStart(t, func(c *service.Config) { c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), tc.unsafe })
			if tc.unsafe {
				if err != nil || !strings.Contains(logs, "UNSAFE DURABILITY") {
					t.Fatalf("with --allow-unsafe-durability: Run = %v, want a start with an ERROR line:\n%s", err, logs)
				}
				return
			}
			var de *jsstore.DurabilityError
			if !errors.As(err, &de) {
				t.Fatalf("Run = %v, want a durability refusal", err)
			}
			for _, want := range []string{"--nats-system-url", "--allow-unsafe-durability", "sync_interval: always"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not name %s", err, want)
				}
			}
		})
	}
}

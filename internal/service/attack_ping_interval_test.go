package service_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
)

// TestNATSPingIntervalBelowTheFloorIsRefused: the connection to
// --nats-url counts two unanswered pings as a dead server. With a ping
// every nanosecond or microsecond (a typo for 1s, a unit left out in the
// environment) the pings outrun their answers on a healthy loopback
// server and the replica reconnects about 15 times a second, never ready
// for long; such a value is refused at start, as 0 and negatives are.
func TestNATSPingIntervalBelowTheFloorIsRefused(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{
		{"1ns", false}, {"1us", false}, {"1ms", false}, {"99ms", false},
		{"100ms", true}, {"500ms", true}, {"10s", true},
	} {
		_, err := service.ParseConfig([]string{"--nats-ping-interval", tt.v}, func(string) string { return "" })
		if (err == nil) != tt.ok {
			t.Errorf("--nats-ping-interval %s: err %v, want accepted %v", tt.v, err, tt.ok)
		}
	}
}

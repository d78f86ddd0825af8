package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A message with no data and a "Status" header looks, to a NATS client,
// exactly like the server's own control answers (idle heartbeat 100, no
// messages 404, end of batch 204): the status line of a real control
// message and a stored header of that name land in the same Header key.
// An attacker who can publish into the stream plants one. The ledger must
// treat it as what it is, a record it did not write: the projections stop
// at its sequence and the probes say so; a token revoked after it never
// validates again.
func TestStoredStatusHeaderMessageStopsTheLedger(t *testing.T) {
	for _, status := range []string{"100", "204", "404", "408", "409"} {
		t.Run(status, func(t *testing.T) {
			srv := natstest.RunServer(t)
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.NATSURL = srv.ClientURL() })
			secret, _ := s.CreateToken("client", "development")

			js, err := jetstream.New(natstest.Connect(t, srv))
			if err != nil {
				t.Fatal(err)
			}
			m := nats.NewMsg("ledger.log.planted.status")
			m.Header.Set("Status", status)
			m.Header.Set("Description", "Idle Heartbeat")
			ack, err := js.PublishMsg(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			// The admin revokes the token after the plant.
			r := s.Do("DELETE", "/api/admin/api-tokens/"+secret, servicetest.AdminSecret, nil)
			t.Logf("revoke after the plant: %d %s", r.Status, r.Body)

			// Bounded: the stall watch reports an unreadable record within
			// seconds (README, Tamper evidence).
			for deadline := time.Now().Add(15 * time.Second); s.Runner.Err() == nil && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
			}
			if r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}); r.Status == http.StatusOK {
				if got := validSecrets(s, secret); len(got) != 0 {
					t.Errorf("the token revoked after the plant still validates")
				}
			}
			body := s.Do("GET", "/health", "", nil).JSON(t)
			if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(ack.Sequence) {
				t.Errorf("/health = %v, want LEDGER_TAMPERED at the planted message's sequence %d", body, ack.Sequence)
			}
		})
	}
}

package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/jsstore"
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
			s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
				c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true // a test server: fsync unproven
			})
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

// publishOfflineMsg is publishOffline for a message with headers.
func publishOfflineMsg(t *testing.T, dir string, m *nats.Msg) uint64 {
	t.Helper()
	cfg := jsstore.DefaultEmbedded(dir)
	cfg.SyncAlways = false
	cfg.OwnerPassword, cfg.FeedPassword = "attacker", "attacker-feed"
	srv, err := jsstore.StartEmbedded(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(jsstore.OwnerUser, "attacker"), nats.InProcessServer(srv),
		nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// verify on a stopped data dir must name a planted status-header
// message as tampering at its sequence (exit 7), not fail to read
// (exit 1) or miss it.
func TestStatusHeaderMessageWrittenOfflineIsNamedByVerifyAndAtStart(t *testing.T) {
	for _, status := range []string{"100", "408"} {
		t.Run(status, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			s.CreateToken("client", "development")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			dir := s.Config.DataDir
			m := nats.NewMsg("ledger.log.planted.status")
			m.Header.Set("Status", status)
			seq := publishOfflineMsg(t, dir, m)
			code, rep := verifyDataDirCode(t, dir)
			if code != cli.ExitTampered || rep["seq"] != float64(seq) {
				t.Errorf("verify: exit %d, %v at %v (%v); want exit %d naming the planted message at %d",
					code, rep["kind"], rep["seq"], rep["detail"], cli.ExitTampered, seq)
			}
			// The ledger itself, started on it, must report it within
			// seconds (README: "the newest record too: reported within
			// seconds, not waited for").
			logs := &servicetest.LogBuffer{}
			m2 := service.NewMain(servicetest.Config(dir, nil, logs))
			defer m2.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := m2.Run(ctx)
			te := (*events.TamperError)(nil)
			if m2.Runner != nil {
				te = events.AsTamper(m2.Runner.Err())
			}
			if te == nil || te.Seq != seq {
				t.Errorf("start on the planted data dir: Run %v, projections %v; want a tamper stop at %d", err, te, seq)
			}
		})
	}
}

// verifyDataDirCode is verifyDataDir that tolerates no JSON report
// (exit 1: it could not verify).
func verifyDataDirCode(t *testing.T, dir string) (int, map[string]any) {
	t.Helper()
	code, stdout, stderr := verifyDataDirText(t, dir, "--json")
	rep := map[string]any{}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		rep["detail"] = stderr
	}
	return code, rep
}

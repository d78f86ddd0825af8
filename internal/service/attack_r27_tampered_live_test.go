package service_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A forged event published into the stream of a running ledger that keeps
// (and serves) its signed tree head: the projections stop at it. The
// integrity routes then serve nothing (503: no checkpoint, proof or bundle
// of a stream the ledger just declared tampered), the head kept beside
// the data dir never signs the forged record, and neither does the head
// the shutdown writes.
func TestAfterALiveForgeryTheRoutesServeNoHeadAndNoneSignsIt(t *testing.T) {
	srv := natstest.RunServer(t)
	head := filepath.Join(t.TempDir(), "ledger.head")
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true // a test server: fsync unproven
		c.TreeHead = head
	})
	s.CreateToken("backend", "development")
	keys, err := integrity.Verifiers(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	s.Must(200, "GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil)

	subject, data := forgeAdminToken(t, s, nil)
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(context.Background(), subject, data)
	if err != nil {
		t.Fatal(err)
	}
	waitStopped(t, s)

	for _, p := range []string{"/api/ledger/checkpoint", "/api/ledger/bundle", "/api/ledger/events/1/proof",
		"/api/ledger/proof/consistency?from=1"} {
		if r := s.Do("GET", p, servicetest.AdminSecret, nil); r.Status != http.StatusServiceUnavailable {
			t.Errorf("GET %s after the tamper stop: %d %.300s, want 503", p, r.Status, r.Body)
		}
	}
	checkHead := func(when string) {
		b, err := os.ReadFile(head)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		cp, err := integrity.OpenCheckpoint(b, keys)
		if err != nil {
			t.Fatalf("%s: the head: %v", when, err)
		}
		if uint64(cp.Size) >= ack.Sequence {
			t.Errorf("%s: the tree head signs %d records, the forged one at %d among them", when, cp.Size, ack.Sequence)
		}
	}
	checkHead("after the stop")
	if err := s.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	checkHead("after the shutdown")
}

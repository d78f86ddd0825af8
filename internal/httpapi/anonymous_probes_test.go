package httpapi_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// /health is liveness ("the process is up") and needs no credential: it is
// the probe every load balancer and kubelet reaches, so an anonymous client
// reaches it too. It must not tell that client when the ledger changes: a
// body that follows the stream's sequence lets anyone watch every token
// create, revocation and user change as it happens (and count them).
func TestHealthDoesNotRevealLedgerActivity(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	before := svc.Must(http.StatusOK, "GET", "/health", "", nil).Body
	_, id := svc.CreateToken("backend", "development", "default")
	svc.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil)
	after := svc.Must(http.StatusOK, "GET", "/health", "", nil).Body
	if !bytes.Equal(before, after) {
		t.Fatalf("an anonymous /health answer changes with each write to the ledger:\nbefore: %s\nafter:  %s", before, after)
	}
}

// Every anonymous GET /metrics makes the ledger's own NATS connection call
// the JetStream API (STREAM.INFO, and a Direct Get while the projections
// lag): nats-server keeps one API request queue for all accounts, which is
// why NATS readers may not call STREAM.INFO at all. An unauthenticated HTTP
// client must not get, by scraping in a loop, the API calls readers were
// denied: the stream figures of a scrape are read at most once per interval
// (or the route is limited), not once per request.
func TestAnonymousScrapesDoNotEachCallTheJetStreamAPI(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	apiCalls := func() uint64 {
		jsz, err := svc.NATSServer().Jsz(&server.JSzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return jsz.API.Total
	}
	const scrapes = 50
	start := apiCalls()
	for range scrapes {
		svc.Must(http.StatusOK, "GET", "/metrics", "", nil)
	}
	if n := apiCalls() - start; n >= scrapes/2 {
		t.Fatalf("%d anonymous scrapes made %d JetStream API calls", scrapes, n)
	}
}

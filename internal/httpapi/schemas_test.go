package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// The events' JSON Schemas are served without a credential, also while the
// ledger starts: the list names one per type and version, each is the
// file in events/schema, and an unknown name is a JSON 404.
func TestEventSchemasAreServedWithoutCredential(t *testing.T) {
	srv, _, _ := probeServer(t)
	status, body := get(t, srv.URL+"/schemas/events")
	names, _ := body["schemas"].([]any)
	if status != http.StatusOK || len(names) != len(events.SchemaNames()) || len(names) < len(events.Types()) {
		t.Fatalf("GET /schemas/events = %d %v", status, body)
	}
	for _, n := range names {
		resp, err := http.Get(srv.URL + "/schemas/events/" + n.(string))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want, _ := events.Schema(n.(string))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/schema+json" || !bytes.Equal(b, want) {
			t.Errorf("GET %s = %d %s", n, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if status, body := get(t, srv.URL+"/schemas/events/token.revoked.v99.json"); status != http.StatusNotFound || body["message"] == nil {
		t.Fatalf("unknown schema: %d %v", status, body)
	}
}

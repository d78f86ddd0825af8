package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
)

// adminDo sends an admin request and returns the answer's body.
func adminDo(t *testing.T, m *Main, method, path, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// Signed events carry no stream position: nothing in an event says which
// sequence it was written at or which record came before it in the
// stream. Between two checkpoints (a ledger that stopped without its
// shutdown checkpoint: a crash, a kill, a power cut) the per-event checks
// are all that protects the records. An attacker with the data dir then
// removes the token.revoked of the last revocation and renumbers the
// records after it: no sequence is missing, every remaining signature and
// hash verifies, the revoked token's chain simply ends at its creation,
// and the kept checkpoint predates the revocation. verify must name the
// deletion, and the revoked token must not authenticate again.
func TestDeletionAfterTheLastCheckpointWithRenumbering(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 100000)
	var created struct{ Secret string }
	_ = json.Unmarshal(adminDo(t, m, "POST", "/api/admin/api-tokens",
		`{"tokenName":"victim","type":"backend","environment":"production","projects":["default"]}`), &created)
	if err := m.checkpoints.checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	adminDo(t, m, "DELETE", "/api/admin/api-tokens/"+created.Secret, "")
	adminDo(t, m, "POST", "/api/admin/api-tokens", `{"tokenName":"later","type":"backend","environment":"production","projects":["default"]}`)
	// A crash: no shutdown checkpoint.
	m.cancel()
	for deadline := time.Now().Add(10 * time.Second); m.Runner.Err() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the projections did not stop")
		}
		time.Sleep(5 * time.Millisecond) // until the projections stopped, so Close appends no checkpoint
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	path, index, recs := readBlock(t, dir)
	i := seqOfType(t, recs, events.TypeTokenRevoked, 1)
	if seqOfType(t, recs, events.TypeCheckpoint, 1) > i {
		t.Fatal("a checkpoint covers the revocation: the test needs it uncovered")
	}
	recs = append(recs[:i:i], recs[i+1:]...)
	for j := range recs {
		recs[j].seq = uint64(j + 1)
	}
	writeBlock(t, dir, path, index, recs, true)

	code, rep := runVerify(t, "--data-dir", dir)
	if code != cli.ExitTampered || rep["seq"] != float64(i+1) {
		t.Errorf("verify: exit %d, %v at %v (%v); want exit %d naming the deletion at %d", code, rep["kind"], rep["seq"], rep["detail"], cli.ExitTampered, i+1)
	}
	if err := startFails(t, dir); err == nil {
		m, _ = startLedger(t, dir, 100000)
		var out struct {
			Tokens []struct{ Token string } `json:"tokens"`
		}
		req, _ := http.NewRequest("POST", m.URL()+"/edge/validate", strings.NewReader(`{"tokens":["`+created.Secret+`"]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		t.Errorf("the ledger started with its last revocation removed; /edge/validate %d, valid: %v", resp.StatusCode, out.Tokens)
	}
}

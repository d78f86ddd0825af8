package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/ledgerkey/keytest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A key ID is a 32-bit hash of a key's name and public key, and names are
// free: an attacker finds a key b whose ID is the ledger key a's (here by
// a birthday search, a and b made together; against a given ledger key,
// 2^32 hashes). The key chain keeps known keys by ID and learns, before
// the replay checks anything, every key a key.rotated event on the stream
// names. With write access to the stream (here the stopped ledger's data
// dir, through the embedded server started with a password of their own)
// the attacker appends after the clean stop's checkpoint key.rotated
// events naming b, signed by b, then a token.created of an admin token
// they know, signed by b: all name the ledger key's ID. The next start
// must fail closed: the forged admin token authenticates nowhere
// (/edge/validate, admin routes), and the start either refuses naming
// tampering (or the collision), or serves reporting LEDGER_TAMPERED at a
// planted event. The offline auditor holding a's verifier key must not
// call the data dir intact either.
//
// Found (atk-r20): the forged token authenticates nowhere in any variant.
// Chain.Learn does overwrite a's public key by b's, but the start cannot
// keep it: finishRotation (signing.go) refuses a stream whose last
// key.rotated does not name the key file's key, and when the last one
// names a, Learn (previous key, then new key, in stream order) ends on a,
// so the replay refuses b's signature at the first planted event
// (LEDGER_TAMPERED, forged, every route 503). What fails is the refusal
// of the first variant: "signing key <file> is key a, but the ledger's
// last key.rotated event names key b: start with the current key file"
// blames the operator's key file for an event the ledger never wrote (it
// is read before anything verifies it) instead of naming tampering.
func TestAPlantedKeyWithTheLedgerKeysIDNeverAuthenticatesAForgedToken(t *testing.T) {
	a, b := keytest.CollidingKeys(t, "r20")
	if a.ID() != b.ID() || a.VerifierKey() == b.VerifierKey() {
		t.Fatalf("keytest gave %s and %s: not two keys with one ID", a.ID(), b.ID())
	}
	for _, tc := range []struct {
		name      string
		rotations []events.KeyRotated // planted, each signed by b
	}{
		{"previous_and_new_key_b", []events.KeyRotated{{Previous: b.VerifierKey(), Key: b.VerifierKey()}}},
		{"previous_key_b_new_key_the_ledgers", []events.KeyRotated{{Previous: b.VerifierKey(), Key: a.VerifierKey()}}},
		{"b_to_b_then_b_to_the_ledgers", []events.KeyRotated{
			{Previous: b.VerifierKey(), Key: b.VerifierKey()}, {Previous: b.VerifierKey(), Key: a.VerifierKey()}}},
	} {
		t.Run(tc.name, func(t *testing.T) { plantCollidingKey(t, a, b, tc.rotations) })
	}
}

// plantCollidingKey runs one plant of TestAPlantedKeyWithTheLedgerKeysIDNeverAuthenticatesAForgedToken.
func plantCollidingKey(t *testing.T, a, b *ledgerkey.Key, rotations []events.KeyRotated) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := a.WriteNew(ledgerkey.DefaultFile(dir)); err != nil {
		t.Fatal(err)
	}
	s := servicetest.Start(t, dir, nil)
	if s.VerifierKey() != a.VerifierKey() {
		t.Fatalf("the ledger signs with %s, not the key file's %s", s.VerifierKey(), a.VerifierKey())
	}
	s.CreateToken("backend", "development")
	tokSubject, tokData := forgeAdminTokenBy(t, s, b)
	if err := s.Close(); err != nil { // a clean stop: a checkpoint covers everything
		t.Fatal(err)
	}

	// The key.rotated events, signed by b (whose ID is a's), chained on
	// the key aggregate as the ledger chains its own.
	var planted []uint64
	prev := ""
	for _, r := range rotations {
		rot, err := events.New(ulid.Make().String(), events.KeyAggregate, r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		rot.Actor, rot.Prev = events.System, prev
		rot.Via = events.Via{CredentialType: "internal", RequestID: "rotate-signing-key"}
		if err := rot.SealFor(b.ID()); err != nil {
			t.Fatal(err)
		}
		if err := rot.Sign(b); err != nil {
			t.Fatal(err)
		}
		data, err := events.Marshal(&rot)
		if err != nil {
			t.Fatal(err)
		}
		planted = append(planted, publishOffline(t, dir, rot.Subject(), data))
		prev = rot.Hash
	}
	// Then the token.created of an admin token for forgedAdminSecret, signed by b.
	forgedSeq := publishOffline(t, dir, tokSubject, tokData)
	planted = append(planted, forgedSeq)

	// The offline auditor with the ledger's verifier key.
	if code, out, errOut := verifyDataDirText(t, dir, "--json", "--key", a.VerifierKey()); code == cli.ExitOK || strings.Contains(out, `"intact":true`) {
		t.Errorf("verify --data-dir --key <a> over the planted events %v: exit %d, says intact:\n%s%s", planted, code, out, errOut)
	} else {
		var rep map[string]any
		_ = json.Unmarshal([]byte(out), &rep)
		t.Logf("verify --data-dir: exit %d, %v at %v: %v", code, rep["kind"], rep["seq"], rep["detail"])
	}

	// The start, run by hand: a refusal is an acceptable answer.
	logs := &servicetest.LogBuffer{}
	m := service.NewMain(servicetest.Config(dir, nil, logs))
	t.Cleanup(func() {
		_ = m.Close()
		if t.Failed() {
			t.Logf("the second start's log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := m.Run(ctx)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "key") || strings.Contains(line, "replay") || strings.Contains(line, "tamper") {
			t.Logf("second start: %s", line)
		}
	}
	if runErr != nil {
		t.Logf("the second start refused: %v", runErr)
		msg := strings.ToLower(strings.ReplaceAll(runErr.Error(), dir, "DATA"))
		if !strings.Contains(msg, "collid") && !strings.Contains(msg, "collision") && !strings.Contains(msg, "tamper") &&
			!strings.Contains(msg, "forged") && !strings.Contains(msg, "forgery") {
			t.Errorf("the start refused, but its error names neither a key ID collision nor tampering (planted events %v): %v", planted, runErr)
		}
		if m.Tokens != nil {
			if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
				t.Error("the start refused, yet the forged admin token reached the token set")
			}
		}
		return
	}
	if err := m.WaitWholeLogCheck(ctx); err != nil && events.AsTamper(err) == nil {
		t.Fatalf("the whole-log check: %v", err)
	}

	// The forged admin token must authenticate nowhere.
	status, body := r20Do(t, m, "POST", "/edge/validate", "", map[string]any{"tokens": []string{forgedAdminSecret}})
	t.Logf("/edge/validate with the forged admin token: %d", status)
	if status == http.StatusOK {
		var out struct {
			Tokens []struct {
				Token string `json:"token"`
			} `json:"tokens"`
		}
		_ = json.Unmarshal(body, &out)
		for _, tok := range out.Tokens {
			if tok.Token == forgedAdminSecret {
				t.Errorf("/edge/validate: 200, the forged admin token (signed by the colliding key %s) is valid", b.VerifierKey())
			}
		}
	} else if status != http.StatusServiceUnavailable {
		t.Errorf("/edge/validate with the forged admin token: %d", status)
	}
	for _, path := range []string{"/api/admin/api-tokens", "/api/admin/user-admin", "/api/ledger/events"} {
		status, _ := r20Do(t, m, "GET", path, forgedAdminSecret, nil)
		t.Logf("GET %s with the forged admin token: %d", path, status)
		if status == http.StatusOK {
			t.Errorf("GET %s answers 200 to the forged admin token", path)
		}
	}
	if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
		t.Error("the forged admin token reached the token set")
	}
	// And the ledger says it was tampered with, at a planted event.
	_, body = r20Do(t, m, "GET", "/health", "", nil)
	var health map[string]any
	_ = json.Unmarshal(body, &health)
	t.Logf("/health: %v", health)
	atPlanted := false
	for _, seq := range planted {
		atPlanted = atPlanted || health["seq"] == float64(seq)
	}
	if health["health"] != "LEDGER_TAMPERED" || !atPlanted {
		t.Errorf("/health = %v, want LEDGER_TAMPERED at a planted event %v", health, planted)
	}
}

// r20Do sends a request to m (cred in Authorization, "" for none) and
// returns the status and body.
func r20Do(t *testing.T, m *service.Main, method, path, cred string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, m.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

package service_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A replica on an external NATS without --tree-head (the head is
// optional there) restarted with --rotate-signing-key: the stream's last
// checkpoint event is signed by the retired key. Whatever the integrity
// routes serve as the newest checkpoint must be signed by the key
// GET /api/ledger/checkpoint names as verifierKey (the brief: nothing
// served is signed by a key other than the one verifierKey names): an
// auditor who takes the verifierKey the server names, or was handed the
// new key after the rotation, is otherwise served a checkpoint that key
// did not sign until the next checkpoint event (up to a minute or 1,000
// events later), and verify --server answers "could not verify".
func TestAfterARotationWithoutATreeHeadTheServedCheckpointIsSignedByTheNamedKey(t *testing.T) {
	srv := natstest.RunServer(t)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	start := func(rotate bool) *servicetest.Service {
		return servicetest.StartWith(t, "", nil, func(c *service.Config) {
			c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true // a test server: fsync unproven
			c.SigningKey, c.RotateSigningKey = key, rotate
			c.CheckpointInterval = time.Minute
		})
	}
	s := start(false)
	s.CreateToken("backend", "development")
	retired := s.VerifierKey()
	if err := s.Close(); err != nil { // appends the shutdown checkpoint, signed by the retired key
		t.Fatal(err)
	}
	s = start(true)
	if s.VerifierKey() == retired {
		t.Fatal("the key did not rotate")
	}
	check := func(when string) {
		r := s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil)
		if r.Status == http.StatusNotFound {
			return // no checkpoint yet: nothing served
		}
		var cp struct {
			Checkpoint  string `json:"checkpoint"`
			VerifierKey string `json:"verifierKey"`
		}
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &cp) != nil {
			t.Fatalf("%s: GET /api/ledger/checkpoint: %d %s", when, r.Status, r.Body)
		}
		keys, err := integrity.Verifiers(cp.VerifierKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := integrity.OpenCheckpoint([]byte(cp.Checkpoint), keys); err != nil {
			t.Errorf("%s: the served checkpoint is not signed by the verifierKey served with it (%s): %v\n%s", when, cp.VerifierKey, err, cp.Checkpoint)
		}
	}
	check("right after the rotation")
	for i := range 3 {
		s.CreateToken("backend", "development")
		check(fmt.Sprintf("after %d new tokens", i+1))
	}
	// A checkpoint is served again soon (bounded), and is the current key's.
	servicetest.WaitFor(t, 10*time.Second, func() error {
		if r := s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil); r.Status != http.StatusOK {
			return fmt.Errorf("GET /api/ledger/checkpoint: %d", r.Status)
		}
		return nil
	})
	check("once a checkpoint is served")
}

package service_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Two replicas share a key file; A is restarted with
// --rotate-signing-key while B keeps running (idle, so the rotation's
// append is not refused). B still holds the retired key. Once B applied
// key.rotated, its chain is at the new key: B must not go on signing,
// under the retired key, tree heads it serves (or events) past the
// rotation, which every auditor following the chain reads as a forgery;
// nor take writes it signs with the retired key, which the replicas
// that follow the chain (A) refuse as forged, stopping as tampered.
func TestAReplicaThatMissedTheRotationSignsNoHeadPastIt(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	start := func(head string, rotate bool) *servicetest.Service {
		return servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
			cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, 10*time.Second
			cfg.SigningKey, cfg.TreeHead, cfg.RotateSigningKey = key, head, rotate
			cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
		})
	}
	headA, headB := filepath.Join(t.TempDir(), "a.head"), filepath.Join(t.TempDir(), "b.head")
	a := start(headA, false)
	b := start(headB, false)
	retired := a.VerifierKey()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = start(headA, true)
	if a.VerifierKey() == retired {
		t.Fatal("the key did not rotate")
	}
	rotatedAt := a.Runner.LastApplied()
	servicetest.WaitFor(t, 20*time.Second, func() error {
		if b.Runner.LastApplied() < rotatedAt && b.Runner.Err() == nil { // applied the rotation, or stopped at it
			return os.ErrDeadlineExceeded
		}
		return nil
	})
	r := b.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "from-b", "type": "backend", "environment": "development"})
	t.Logf("create through b after the rotation: %d %.300s", r.Status, r.Body)
	time.Sleep(300 * time.Millisecond) // b's head sweep
	newKeys, _ := integrity.Verifiers(a.VerifierKey())
	oldKeys, _ := integrity.Verifiers(retired)
	bs, err := os.ReadFile(headB)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := integrity.OpenCheckpoint(bs, oldKeys); err == nil && uint64(cp.Size) >= rotatedAt {
		_, errNew := integrity.OpenCheckpoint(bs, newKeys)
		t.Errorf("replica b signs a head of %d records (the rotation at %d) with the retired key (new key: %v)",
			cp.Size, rotatedAt, errNew)
	}
	if r.Status < 300 {
		t.Errorf("replica b, holding the retired key, took a write after the rotation: %d", r.Status)
	}
	if err := a.Runner.Err(); err != nil {
		t.Errorf("replica a (the new key) stopped: %v", err)
	}
}

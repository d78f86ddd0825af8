package service_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// 9fd89bc: "a planted last key.rotated is named as tampering at start"
// when it is not signed by the key it retires. A planted last key.rotated
// that names the key file's key as its new key and an empty (unparseable)
// previous key is signed by no key it retires, yet the start refuses with
// a plain error from the chain's Learn ("verifier key \"\" ..."): no
// TamperError, so no sequence/kind as tampering, unlike the cases
// unwrittenRotation covers (finishRotation returns early when the new key
// is the key file's, and the probe ignores Learn's non-collision errors).
// Found (atk-r21).
func TestAPlantedLastRotationWithAnEmptyPreviousKeyIsNamedAsTampering(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	s := servicetest.Start(t, dir, nil)
	ledgerVKey := s.VerifierKey()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	subj, data := signedRotation(t, mallory, "", ledgerVKey)
	seq := publishOffline(t, dir, subj, data)

	m := service.NewMain(servicetest.Config(dir, nil, &servicetest.LogBuffer{}))
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := m.Run(ctx)
	if runErr == nil {
		if te := events.AsTamper(m.Runner.Err()); te == nil || te.Seq != seq {
			t.Fatalf("the start served without naming the planted key.rotated at sequence %d as tampering (runner: %v)", seq, m.Runner.Err())
		}
		return
	}
	if te := events.AsTamper(runErr); te == nil || te.Seq != seq {
		t.Fatalf("the start refused, but not as tampering at the planted sequence %d: %v", seq, runErr)
	}
}

package verifier_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// testWait bounds every wait of a test (a hang fails, never a slow run).
const testWait = feedtest.Wait

func ctxFor(t *testing.T) context.Context { return feedtest.Ctx(t) }

// connection is the reader's connection settings.
func connection(l *feedtest.Ledger) verifier.Connection {
	return verifier.Connection{URL: l.URL(), NkeySeedFile: l.SeedFile}
}

// connect starts a verifier as the reader; it is closed when the test ends.
func connect(t *testing.T, l *feedtest.Ledger, cfg verifier.Config) *verifier.Verifier {
	t.Helper()
	v, err := verifier.Connect(connection(l), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return v
}

// waitReady waits for v's first catch-up.
func waitReady(t *testing.T, v *verifier.Verifier) {
	t.Helper()
	select {
	case <-v.Ready():
	case <-ctxFor(t).Done():
		t.Fatalf("verifier not ready within %s: %+v", testWait, v.Stats())
	}
}

// waitApplied waits until v is ready and applied the event at ledger
// sequence seq: Ready means caught up with the feed, which the ledger's
// publisher fills a moment after each append.
func waitApplied(t *testing.T, v *verifier.Verifier, seq uint64) {
	t.Helper()
	waitReady(t, v)
	if err := v.WaitFor(ctxFor(t), seq); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it returns nil or testWait passes.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, testWait, err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
}

package projections_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// A replay whose signatures are prechecked in runs on all CPUs applies
// what the one-by-one replay applies, and stops at a forged event inside a
// run exactly where and as the one-by-one replay does: the event before it
// applied, the forged one named.
func TestRunnerPrecheckedReplayRefusesWhatTheOneByOneReplayRefuses(t *testing.T) {
	t.Parallel()
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	for _, forged := range []bool{false, true} {
		l := newLedger(t)
		l.store.SetSigner(key)
		l.mixed(projections.PrecheckBatch + 200)
		var bad uint64
		if forged {
			l.store.SetSigner(mallory)
			bad = l.append(storetest.NewAggregateID(), events.TokenRevoked{Reason: events.ReasonDeleted})
			l.store.SetSigner(key)
		}
		l.mixed(projections.PrecheckBatch*2 + 100)
		for _, precheck := range []bool{false, true} {
			chain, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			set := tokenset.New()
			r := projections.NewRunner(l.store, set)
			r.Verify = chain.Check
			if precheck {
				r.Precheck = chain.Precheck
			}
			_, done := start(t, r)
			if !forged {
				if err := r.WaitFor(ctxFor(t), l.sent[len(l.sent)-1].Sequence); err != nil {
					t.Fatalf("precheck %v: %v", precheck, err)
				}
				if got, want := set.Digest(), digestOf(t, l.sent); got != want {
					t.Fatalf("precheck %v: digest %s, want %s", precheck, got, want)
				}
				continue
			}
			te := events.AsTamper(done())
			if te == nil || te.Seq != bad || te.Kind != events.TamperForged {
				t.Fatalf("precheck %v: Run = %v, want forged at %d", precheck, r.Err(), bad)
			}
			if r.LastApplied() != bad-1 {
				t.Fatalf("precheck %v: LastApplied %d, want %d", precheck, r.LastApplied(), bad-1)
			}
		}
	}
}

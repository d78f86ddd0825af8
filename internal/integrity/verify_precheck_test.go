package integrity_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// checkOnly is benchChain without its Precheck: every signature checked
// one by one, in order.
type checkOnly struct{ c *ledgerkey.Chain }

func (k checkOnly) Check(env *events.Envelope) error { return k.c.Check(*env) }

// signedEvent appends an event of token agg signed by s.
func signedEvent(t *testing.T, l *testLog, agg string, s events.Signer) {
	t.Helper()
	seq := len(l.records) + 1
	env, err := events.New(fmt.Sprintf("ev-%07d", seq), agg, events.TokenExpired{ExpiresAt: l.t0}, l.t0.Add(time.Duration(seq)*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	env.Actor = events.System
	env.Prev = l.last[agg]
	if err := env.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := env.Sign(s); err != nil {
		t.Fatal(err)
	}
	l.last[agg] = env.Hash
	b, err := events.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	l.add(b)
}

// verify's signatures after the last checkpoint are decoded and
// prechecked on all CPUs (a Prechecker) and still followed in order: the
// outcome is the one-by-one check's, a forged event inside the run named
// at its sequence.
func TestVerifierPrecheckedSignaturesNameWhatTheOneByOneCheckNames(t *testing.T) {
	k := newKey(t, "ledger.example")
	lk, err := ledgerkey.Generate("ledger.example")
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := ledgerkey.Generate("ledger.example")
	if err != nil {
		t.Fatal(err)
	}
	const n, forgedAt = 600, 421
	for _, forged := range []bool{false, true} {
		l := newTestLog(t, k)
		for len(l.records) < n {
			s := lk
			if forged && len(l.records)+1 == forgedAt {
				s = mallory
			}
			signedEvent(t, l, fmt.Sprintf("tok-%d", len(l.records)%13), s)
		}
		for _, precheck := range []bool{false, true} {
			t.Run(fmt.Sprintf("forged=%v/precheck=%v", forged, precheck), func(t *testing.T) {
				chain, err := ledgerkey.NewChain(lk.VerifierKey())
				if err != nil {
					t.Fatal(err)
				}
				var sigs integrity.Signatures = checkOnly{chain}
				if precheck {
					sigs = benchChain{chain}
				}
				v := integrity.NewVerifier(integrity.Config{Keys: k.keys, Signatures: sigs})
				_ = v.AddBatch(1, l.records)
				rep := v.Finish(n)
				switch {
				case !forged && (rep.Finding != nil || rep.SignaturesChecked != n):
					t.Fatalf("finding %v, %d signatures checked; want none and %d", rep.Finding, rep.SignaturesChecked, n)
				case forged && (rep.Finding == nil || rep.Finding.Seq != forgedAt || rep.Finding.Kind != integrity.KindForgery):
					t.Fatalf("finding %v, want a forgery at %d", rep.Finding, forgedAt)
				}
			})
		}
	}
}

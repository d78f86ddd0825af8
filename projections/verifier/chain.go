package verifier

import (
	"errors"
	"fmt"

	"github.com/tokenledger/tokenledger/projections/feed"
)

// ErrFeedBroken: a signed feed event named another predecessor than the
// feed event the verifier checked before it, so genuine events are
// missing from the feed (someone rewrote it, a revocation cut out say).
// The verifier cannot know what it lacks and fails closed for good: the
// feed must be rebuilt from the ledger.
var ErrFeedBroken = errors.New("verifier: the token feed lost events (a signed event names a predecessor it does not follow)")

// chained checks a signed feed event against the signed event before it:
// an event that names its predecessor ([feed.PreviousHeader]) must name
// the last one checked. A copy of an event checked already passes (the
// set ignores it); an event that does not follow breaks the chain, and
// Verify fails closed with ErrFeedBroken from then on. Called from the
// verifier's goroutine only, after the signature was checked.
func (v *Verifier) chained(ev feed.Event) bool {
	if v.broken.Load() {
		return false
	}
	if ev.LedgerSequence <= v.chainLast {
		return true
	}
	if prev, ok := ev.PreviousSequence(); ok && prev != v.chainLast {
		v.broken.Store(true)
		v.report(fmt.Errorf("feed sequence %d (ledger sequence %d) names ledger sequence %d before it, the last signed feed event was %d: %w",
			ev.Sequence, ev.LedgerSequence, prev, v.chainLast, ErrFeedBroken))
		return false
	}
	v.chainLast = ev.LedgerSequence
	return true
}

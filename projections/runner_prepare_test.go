package projections_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections"
)

// preparing is a projection that marks each event in Prepare and checks
// in Apply that the mark is there, and records the Grow calls.
type preparing struct {
	mu       sync.Mutex
	last     uint64
	grown    []int
	appliedN int // events applied when Grow was called last
	growAt   int
	err      error
}

func (p *preparing) Prepare(env *events.Envelope) { env.SetRecordHash([32]byte{byte(env.Sequence)}) }

func (p *preparing) Grow(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grown = append(p.grown, n)
	p.growAt = p.appliedN
}

func (p *preparing) Apply(env events.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if env.Sequence <= p.last {
		return nil
	}
	if h, ok := env.RecordHash(); (!ok || h[0] != byte(env.Sequence)) && p.err == nil {
		p.err = fmt.Errorf("event %d applied without its Prepare", env.Sequence)
	}
	p.last = env.Sequence
	p.appliedN++
	return nil
}

func (p *preparing) LastApplied() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// A Runner on a store that can prepare (the JetStream store) gives every
// event to its projections' Prepare before Apply, the replayed and the
// live ones, and tells them how many events the replay brings before the
// first is applied, so that they make room once.
func TestRunnerPreparesAndGrowsItsProjections(t *testing.T) {
	l := newLedger(t)
	l.mixed(40)
	p := &preparing{}
	var _ projections.Preparer = p
	var _ projections.Grower = p
	var _ projections.PreparingSource = l.store
	r := projections.NewRunner(l.store, p)
	start(t, r)
	if err := r.WaitReady(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	live := l.append(l.sent[0].AggregateID, events.TokenRevoked{Reason: events.ReasonDeleted})
	if err := r.WaitFor(ctxFor(t), live); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatal(p.err)
	}
	if len(p.grown) != 1 || p.grown[0] != 40 || p.growAt != 0 {
		t.Fatalf("Grow calls %v (the last after %d events applied), want one of 40 before the first", p.grown, p.growAt)
	}
}

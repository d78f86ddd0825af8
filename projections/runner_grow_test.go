package projections_test

import (
	"sync"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// The projections a replay fills in bulk make room before it: the Merkle
// tree and the token set's indexes.
var (
	_ projections.Grower = (*integrity.Log)(nil)
	_ projections.Grower = (*tokenset.Set)(nil)
)

// growing is a projection that records its Grow calls and how many
// events it had applied at each.
type growing struct {
	mu      sync.Mutex
	last    uint64
	applied int
	calls   [][2]int // {n, applied}
}

func (g *growing) Grow(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, [2]int{n, g.applied})
}

func (g *growing) Apply(env events.Envelope) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if env.Sequence > g.last {
		g.last = env.Sequence
		g.applied++
	}
	return nil
}

func (g *growing) LastApplied() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// A Runner tells its projections how many events its catch-up replay
// brings (from the stream's last sequence) before it applies the first,
// so that they make room once instead of growing and copying as the
// events come (the integrity tree at a million events); a resumed Run
// asks for the rest only.
func TestRunnerGrowsItsProjectionsBeforeTheReplay(t *testing.T) {
	l := newLedger(t)
	l.mixed(30)
	g := &growing{}
	var _ projections.Grower = g
	r := projections.NewRunner(l.store, g)
	stop, wait := start(t, r)
	if err := r.WaitReady(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	stop()
	_ = wait()
	l.mixed(45)
	r = projections.NewRunner(l.store, g) // resumes from g.LastApplied
	start(t, r)
	if err := r.WaitFor(ctxFor(t), 45); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := [][2]int{{30, 0}, {15, 30}}
	if len(g.calls) != 2 || g.calls[0] != want[0] || g.calls[1] != want[1] {
		t.Fatalf("Grow calls {n, applied before} %v, want %v", g.calls, want)
	}
}

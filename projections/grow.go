package projections

// Grower is a [Projection] that can make room for n more events before a
// replay of n events, rather than growing (and copying) as they come: a
// [Runner] calls Grow with the number of events its catch-up replay
// applies, from the stream's last sequence, before the first.
type Grower interface {
	Grow(n int)
}

// maxGrow caps what a Runner asks a Grower to make room for at once.
const maxGrow = 1 << 24

// grow tells every Grower of r that n events are about to be replayed.
func (r *Runner) grow(n uint64) {
	if n == 0 {
		return
	}
	n = min(n, maxGrow)
	for _, p := range r.ps {
		if g, ok := p.(Grower); ok {
			g.Grow(int(n))
		}
	}
}

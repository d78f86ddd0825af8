package projections

// Hold calls fn while no event is being applied, with the sequence every
// projection applied: the projections' state is the state at that
// sequence for as long as fn runs (it may read them, e.g. to write a
// snapshot), and events wait until it returns. Keep fn short: readers
// waiting for their writes (WaitFor) wait for it too.
func (r *Runner) Hold(fn func(applied uint64) error) error {
	r.held.Lock()
	defer r.held.Unlock()
	return fn(r.applied.Load())
}

package projections

// Wakes is how often r woke its waiters.
func Wakes(r *Runner) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wakes
}

package tokenset

// Grow makes room for n more tokens in the Set's indexes (by verifier,
// id and name), so that a replay of n events, any of which may create a
// token, never rebuilds them as they fill: a [projections.Runner] calls
// it with the number of events its catch-up replay applies. A rebuild
// rehashes every token, reading its id or name from the arena; at a
// million events the rebuilds cost about a tenth of the token set's
// replay. The price is room for events that create no token: 32 bytes
// and a bit (the tokens that may expire) an event (two slots in each
// index, which stay at most half full),
// rounded up to a power of two, as any index of that many tokens; a
// stream whose events are mostly creations ends at the same sizes.
func (s *Set) Grow(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	total := int(s.recs.n) + n
	s.vx.reserveFor(&s.recs, total)
	s.byID.reserve(total, s.hashID)
	s.byName.reserve(total, s.hashName)
	s.pending.reserve(total)
}

// reserveFor grows the index, if needed, to hold n verifiers at the load
// put keeps. Readers may probe the old table meanwhile (see grow).
func (x *vindex) reserveFor(recs *column[rec], n int) {
	tab := x.tab.Load()
	if tab == nil || 2*(n+1) > len(tab.slots) {
		x.grow(recs, tab, n)
	}
}

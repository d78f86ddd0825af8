package tokenset

// AppendRange appends to dst the tokens at positions from to from+n-1 of
// creation order (CreatedSeq order, revoked ones included, as [Set.All])
// and returns dst and the position after the last token appended; it
// appends nothing once from reaches [Set.Len]. It holds the read lock for
// those tokens only: a caller that walks a large set a page at a time lets
// the writer in between pages (each page is as of its own call) and keeps
// one page in memory instead of every token.
func (s *Set) AppendRange(dst []Token, from, n int) ([]Token, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	end := min(from+n, int(s.recs.n))
	for i := max(from, 0); i < end; i++ {
		dst = append(dst, s.token(uint32(i)))
	}
	return dst, max(end, from)
}

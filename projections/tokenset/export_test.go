package tokenset

// WithoutVerifier returns t with its verifier zeroed, so black-box tests
// can compare a whole Token with one they built.
func WithoutVerifier(t Token) Token {
	t.verifier = [32]byte{}
	return t
}

// BetweenDigestChunks sets a function DigestYielding runs between two
// chunks, without the lock.
func (s *Set) BetweenDigestChunks(f func()) { s.betweenDigestChunks = f }

// DigestChunk is DigestYielding's chunk size.
const DigestChunk = digestChunk

// OverSlots is the number of slots of the over column (the times a
// record cannot keep in a word), free ones included.
func (s *Set) OverSlots() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int(s.in.over.n)
}

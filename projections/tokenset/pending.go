package tokenset

import "math/bits"

// pendingSet is the set of tokens that may still expire (Set.pending), a
// bit per token index: setting and clearing a bit is what a replay does
// at most events, and a map of the same tokens rehashed itself as it
// grew (a tenth of the token set's apply at a million events), where the
// bits cost one word per 64 tokens and never move but to grow.
type pendingSet struct {
	words []uint64
}

// add sets token i's bit.
func (p *pendingSet) add(i uint32) {
	w := int(i >> 6)
	if w >= len(p.words) {
		p.words = append(p.words, make([]uint64, w+1-len(p.words))...)
	}
	p.words[w] |= 1 << (i & 63)
}

// remove clears token i's bit.
func (p *pendingSet) remove(i uint32) {
	w := int(i >> 6)
	if w >= len(p.words) {
		return
	}
	p.words[w] &^= 1 << (i & 63)
}

// reserve makes room for tokens up to index n-1 without growing.
func (p *pendingSet) reserve(n int) {
	if w := (n + 63) >> 6; w > cap(p.words) {
		words := make([]uint64, len(p.words), w)
		copy(words, p.words)
		p.words = words
	}
}

// each calls fn with every token index in the set, ascending.
func (p *pendingSet) each(fn func(i uint32)) {
	for w, word := range p.words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			fn(uint32(w<<6 | b))
			word &= word - 1
		}
	}
}

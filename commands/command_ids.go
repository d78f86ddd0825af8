package commands

import "sync"

// commandSet is the command ids recorded on one aggregate, each with the
// sequences of its events: the replay check's memory (see
// AggregateState.Command).
//
// It is shared, never copied: a state folded further (AggregateState.more
// on a copy) adds to the set of the state it started from, and each state
// sees only the entries at or below its own Version. This is sound because
// an aggregate's history is one immutable sequence (the stream denies
// deletes and purges): every state of one aggregate is a prefix of it, so
// two folds that add to one set add the same pairs, and a prefix's entries
// are exactly those at or below its last sequence. Copying a state is then
// O(1) however long its history is, which is what lets the state cache
// hand out copies without paying for the history each time.
type commandSet struct {
	mu  sync.RWMutex
	ids map[string]commandSeqs
}

// commandSeqs are the first and last sequences of one command id's events
// on the aggregate (one command appends one event per aggregate; the same
// id twice is a derived id recorded again, e.g. by two replicas' sweeps).
type commandSeqs struct{ first, last uint64 }

func newCommandSet() *commandSet { return &commandSet{ids: map[string]commandSeqs{}} }

// add records id at seq.
func (c *commandSet) add(id string, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.ids[id]
	switch {
	case !ok:
		s = commandSeqs{first: seq, last: seq}
	case seq < s.first:
		s.first = seq
	case seq > s.last:
		s.last = seq
	}
	c.ids[id] = s
}

// seq returns the sequence of id's newest event at or below upTo; with two
// or more events of id, an event between the first and the last one is
// reported as the first (any of them names the command as recorded).
func (c *commandSet) seq(id string, upTo uint64) (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.RLock()
	s, ok := c.ids[id]
	c.mu.RUnlock()
	switch {
	case !ok || s.first > upTo:
		return 0, false
	case s.last <= upTo:
		return s.last, true
	}
	return s.first, true
}

// size is how many ids the set holds (for the cache's weight).
func (c *commandSet) size() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.ids)
}

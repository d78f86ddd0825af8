package commands

import (
	"container/list"
	"sync"
)

// The state cache keeps the folded states of the aggregates commands
// touched, so that a command reads only the events its aggregate got since
// (EventStore.LoadAfter: one round trip that usually answers "nothing")
// instead of folding the whole history again. It is a help, never the
// truth: every append still carries the aggregate's expectation, so a
// state that missed an event conflicts, its entry is dropped, and the
// command is decided again on a full load (see load and withTokens).

// Defaults of Config.StateCache and Config.StateCacheCommandIDs.
const (
	DefaultStateCache           = 4096
	DefaultStateCacheCommandIDs = 1 << 16
)

// aggregateKey names one aggregate.
type aggregateKey struct{ kind, id string }

// cachedState is one aggregate's folded state (a value of its state type,
// e.g. TokenState) and what it weighs: the command ids it remembers.
type cachedState struct {
	key    aggregateKey
	state  any
	weight int
}

// stateCache is a least-recently-used set of folded states, bounded by
// their number and by the command ids they hold together (a state's
// memory grows with its history only through those). A nil *stateCache
// caches nothing. Safe for concurrent use; no I/O happens under its lock.
type stateCache struct {
	mu        sync.Mutex
	maxStates int
	maxIDs    int
	ids       int // the weights of the cached states, summed
	lru       list.List
	byKey     map[aggregateKey]*list.Element
}

// newStateCache returns a cache of at most maxStates states holding at most
// maxIDs command ids; nil (no cache) when maxStates or maxIDs is below 1.
func newStateCache(maxStates, maxIDs int) *stateCache {
	if maxStates < 1 || maxIDs < 1 {
		return nil
	}
	return &stateCache{maxStates: maxStates, maxIDs: maxIDs, byKey: make(map[aggregateKey]*list.Element)}
}

// get returns the cached state of k.
func (c *stateCache) get(k aggregateKey) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cachedState).state, true
}

// put caches state as k's at version, unless a state of a later version is
// cached already (two commands that brought one aggregate up to date
// concurrently: the newer stays). A state heavier than the whole budget is
// not kept.
func (c *stateCache) put(k aggregateKey, state folded, weight int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		old := e.Value.(*cachedState)
		if old.state.(folded).base().Version > state.base().Version {
			return
		}
		c.remove(e)
	}
	if weight > c.maxIDs {
		return
	}
	c.byKey[k] = c.lru.PushFront(&cachedState{key: k, state: state, weight: weight})
	c.ids += weight
	for c.lru.Len() > c.maxStates || c.ids > c.maxIDs {
		c.remove(c.lru.Back())
	}
}

// drop forgets k's state.
func (c *stateCache) drop(k aggregateKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.remove(e)
	}
}

// len is how many states are cached.
func (c *stateCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *stateCache) remove(e *list.Element) {
	s := c.lru.Remove(e).(*cachedState)
	delete(c.byKey, s.key)
	c.ids -= s.weight
}

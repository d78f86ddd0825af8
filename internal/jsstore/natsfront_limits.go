package jsstore

import (
	"net/netip"
	"time"
)

// signInBudget is a token bucket of sign-in attempts per client address,
// with bounded memory. The front takes a token when it forwards a
// socket's CONNECT (each costs the server a password check: bcrypt for
// password users) and gives it back when the socket signs in, so only
// failed sign-ins spend the budget, and at most a burst of checks from
// one address run at once. A nil budget limits nothing. Not safe for
// concurrent use: the front calls it under its lock.
type signInBudget struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	bkts  map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBudgetKeys bounds the addresses a signInBudget remembers.
const maxBudgetKeys = 10_000

func newSignInBudget(perSecond float64, burst int) *signInBudget {
	if perSecond <= 0 {
		return nil
	}
	return &signInBudget{rate: perSecond, burst: float64(max(burst, 1)), max: maxBudgetKeys, bkts: map[netip.Addr]*bucket{}}
}

// tokens is what key has at now, the bucket (nil for a full one).
func (b *signInBudget) tokens(key netip.Addr, now time.Time) (float64, *bucket) {
	k := b.bkts[key]
	if k == nil {
		return b.burst, nil
	}
	return min(b.burst, k.tokens+now.Sub(k.at).Seconds()*b.rate), k
}

// allows reports whether key may attempt a sign-in now.
func (b *signInBudget) allows(key netip.Addr, now time.Time) bool {
	if b == nil {
		return true
	}
	n, _ := b.tokens(key, now)
	return n >= 1
}

// take spends one of key's tokens; false (nothing spent) when it has none.
func (b *signInBudget) take(key netip.Addr, now time.Time) bool {
	if b == nil {
		return true
	}
	n, k := b.tokens(key, now)
	if n < 1 {
		return false
	}
	if k == nil {
		b.makeRoom(now)
		k = &bucket{}
		b.bkts[key] = k
	}
	k.tokens, k.at = n-1, now
	return true
}

// give returns a token taken for a sign-in that succeeded.
func (b *signInBudget) give(key netip.Addr, now time.Time) {
	if b == nil {
		return
	}
	if n, k := b.tokens(key, now); k != nil {
		k.tokens, k.at = min(b.burst, n+1), now
	}
}

// makeRoom drops full buckets (no different from an absent one) when the
// map is at its bound, and then any (it restarts full: under a flood of
// distinct addresses that is all a per-address budget can offer).
func (b *signInBudget) makeRoom(now time.Time) {
	if len(b.bkts) < b.max {
		return
	}
	for a := range b.bkts {
		if n, _ := b.tokens(a, now); n >= b.burst {
			delete(b.bkts, a)
		}
	}
	for a := range b.bkts {
		if len(b.bkts) < b.max {
			return
		}
		delete(b.bkts, a)
	}
}

// networkKey is the network a client address belongs to for the front's
// eviction order: its IPv4 /24 or its IPv6 /48 (what one customer, one
// host's provider block, commonly holds), so that many addresses of one
// network weigh as one.
func networkKey(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

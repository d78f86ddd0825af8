package httpapi

import (
	"strconv"
	"testing"
	"time"
)

// A flood of distinct addresses cannot grow the limiter without bound:
// full buckets are dropped first, then arbitrary ones.
func TestKeyedLimiterHoldsAtMostItsCap(t *testing.T) {
	l := newKeyedLimiter(1, 2, 100)
	now := time.Now()
	for i := range 10_000 {
		l.charge("10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), 1, now)
		if n := l.len(); n > 100 {
			t.Fatalf("%d keys after %d addresses", n, i+1)
		}
	}
	// A key still in debt is limited; one that refilled is forgotten.
	l = newKeyedLimiter(1, 2, 2)
	l.charge("a", 2, now)
	if wait := l.blocked("a", now); wait <= 0 {
		t.Fatal("a key with an empty bucket is not limited")
	}
	later := now.Add(10 * time.Second)
	l.charge("b", 1, later)
	l.charge("c", 1, later) // at the cap: "a" refilled and is dropped first
	if l.blocked("b", later) != 0 || l.len() != 2 {
		t.Fatalf("keys %d", l.len())
	}
	if _, ok := l.buckets["a"]; ok {
		t.Fatal("a refilled bucket was kept over a live one")
	}
}

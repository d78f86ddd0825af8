package tokenset

import (
	"math"
	"testing"
	"time"
	"unsafe"
)

func TestUnixNano_SaturatesInsteadOfOverflowing(t *testing.T) {
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	early := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	if got := unixNano(far); got != math.MaxInt64 {
		t.Errorf("year 9999 = %d, want MaxInt64", got)
	}
	if got := unixNano(early); got != math.MinInt64 {
		t.Errorf("year 1000 = %d, want MinInt64", got)
	}
	if got := unixNano(now); got != now.UnixNano() {
		t.Errorf("now = %d, want %d", got, now.UnixNano())
	}
	tok := &Token{verifier: [32]byte{1}, ExpiresAt: far}
	var x vindex
	x.put(tok)
	if _, st := x.verify(&tok.verifier, unixNano(now)); st != Valid {
		t.Errorf("a token expiring in 9999 is %v today", st)
	}
}

func TestVslot_IsOneCacheLine(t *testing.T) {
	if s := unsafe.Sizeof(vslot{}); s != 64 {
		t.Fatalf("vslot is %d bytes, want 64", s)
	}
}

package jsstore

import (
	"testing"
	"time"
)

// The consumer's last delivery time is read from the clock at a burst's
// edges and every stampEvery messages within it, not for each message:
// a burst that stops short (the stall the watch looks for) leaves it at
// most stampEvery messages old, and a message after a pause is stamped.
func TestDeliveryReadsTheClockAtABurstsEdgesAndEveryStampEveryMessages(t *testing.T) {
	long := make([]uint64, 2*stampEvery+3) // a burst, nothing pending after its last
	for i := range long {
		long[i] = uint64(len(long) - 1 - i)
	}
	for _, c := range []struct {
		name    string
		pending []uint64
		stamped []int // the messages that read the clock
	}{
		{"a lone message", []uint64{0}, []int{0}},
		{"a burst's first and last", []uint64{2, 1, 0}, []int{0, 2}},
		{"a message after a burst ended", []uint64{1, 0, 0}, []int{0, 1, 2}},
		{"a long burst every stampEvery", long, []int{0, stampEvery, 2 * stampEvery, 2*stampEvery + 2}},
		{"a burst that stops short", []uint64{5, 4, 3}, []int{0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &delivery{stampNext: true}
			var got []int
			for i, p := range c.pending {
				d.consumerAt = time.Time{}
				d.stamp(p)
				if !d.consumerAt.IsZero() {
					got = append(got, i)
				}
			}
			if len(got) != len(c.stamped) {
				t.Fatalf("stamped messages %v, want %v", got, c.stamped)
			}
			for i := range got {
				if got[i] != c.stamped[i] {
					t.Fatalf("stamped messages %v, want %v", got, c.stamped)
				}
			}
		})
	}
}

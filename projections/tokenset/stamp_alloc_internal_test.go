package tokenset

import (
	"testing"
	"time"
)

// A replay stamps two times an event (creation, expiry or revocation):
// a UTC time fits the record's word and must not be copied to the heap
// (only a time kept whole in an over slot is).
func TestStampOfAUTCTimeAllocatesNothing(t *testing.T) {
	var in interned
	in.init()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	if n := testing.AllocsPerRun(100, func() {
		if _, set, over := in.stamp(at); !set || over {
			t.Fatal("a UTC time was not stamped in the word")
		}
	}); n != 0 {
		t.Errorf("stamping a UTC time allocates %v times", n)
	}
	// An over time is still kept whole, in a slot of its own.
	zoned := at.In(time.FixedZone("x", 3600))
	v, set, over := in.stamp(zoned)
	if !set || !over || !in.time(v, set, over).Equal(zoned) || in.time(v, set, over).Location() != zoned.Location() {
		t.Errorf("over time: %v %v %v", in.time(v, set, over), set, over)
	}
}

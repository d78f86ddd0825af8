package events_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// A record hash attached on decoding belongs to the stored bytes: it
// travels with copies of the envelope, and an event sealed again (no
// longer those bytes) drops it with them.
func TestRecordHashGoesWithTheStoredBytes(t *testing.T) {
	e := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonDeleted})
	b, err := events.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	d, err := events.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.RecordHash(); ok {
		t.Fatal("a decoded event carries a record hash before one was attached")
	}
	d.SetRecordHash([32]byte{7})
	cp := d
	if h, ok := cp.RecordHash(); !ok || h != [32]byte{7} {
		t.Fatalf("a copy carries %v, %v; want the attached hash", h, ok)
	}
	if err := cp.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, ok := cp.RecordHash(); ok || cp.Stored() != nil {
		t.Fatal("a sealed event kept the record hash of the bytes it was decoded from")
	}
}

package events_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

func TestUnmarshalKeepsTheStoredBytes(t *testing.T) {
	e := sampleEnvelope(t, events.TokenRevoked{Reason: events.ReasonCompromised})
	b, _ := events.Marshal(&e)
	// Bytes another encoder could have written: re-encoding would not give them back.
	stored := []byte(strings.Replace(string(b), `{"id"`, `{ "id"`, 1))
	d, err := events.Unmarshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Stored()) != string(stored) {
		t.Fatalf("Stored() = %q, want the bytes decoded", d.Stored())
	}
	if e.Stored() != nil {
		t.Fatal("an envelope built in memory has no stored bytes")
	}
}

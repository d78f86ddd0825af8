package projections

import (
	"fmt"

	"github.com/tokenledger/tokenledger/events"
)

// ChainHead is what [Chains] knew of one aggregate at one moment: the
// hash prefix of its last event, if it had one, as of the sequence Chains
// had applied. Take it before reading the aggregate's events from the
// stream; [ChainHead.Check] then tells whether the read holds the whole
// chain up to that sequence.
type ChainHead struct {
	kind, id string
	last     uint64 // hash prefix of the aggregate's last event
	has      bool   // the aggregate had an event
	through  uint64 // the sequence Chains had applied
}

// Head returns what c knows of aggregate kind/id now.
func (c *Chains) Head(kind, id string) ChainHead {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := ChainHead{kind: kind, id: id, through: c.last}
	if k := c.kinds[kind]; k != nil {
		h.last, h.has = k.get(id)
	}
	return h
}

// Check reports whether evs, the aggregate's events as a read of its own
// subject returned them (ascending; from its first event when fromStart,
// else from some event after its first), hold its whole chain up to the
// head's sequence: each event follows the one before it (by Prev), the
// first names no predecessor when fromStart, and the last event at or
// below the head's sequence is the aggregate's last event there. A record
// of the aggregate deleted from the stream, or moved out of its subject,
// while the ledger was stopped fails one of these; a read of one subject
// cannot see such a gap otherwise. The error is an [events.TamperError]
// of kind [events.TamperChain] naming the event after the gap (0 when the
// missing records are the aggregate's last).
func (h ChainHead) Check(evs []events.Envelope, fromStart bool) error {
	var lastHere *events.Envelope // the last event at or below h.through
	for i := range evs {
		e := &evs[i]
		switch {
		case i > 0 && e.Prev != evs[i-1].Hash:
			return h.gap(e.Sequence, fmt.Errorf("projections: the %s event %s at %d does not follow the %s event at %d in the read of %s %s",
				e.Type, e.ID, e.Sequence, evs[i-1].Type, evs[i-1].Sequence, h.kind, h.id))
		case i == 0 && fromStart && e.Prev != "":
			return h.gap(e.Sequence, fmt.Errorf("projections: the first event read of %s %s, %s at %d, names a predecessor the read does not hold",
				h.kind, h.id, e.Type, e.Sequence))
		}
		if e.Sequence <= h.through {
			lastHere = e
		}
	}
	switch {
	case lastHere == nil && h.has && fromStart:
		return h.gap(0, fmt.Errorf("projections: %s %s has events up to %d, and the read holds none", h.kind, h.id, h.through))
	case lastHere == nil:
		return nil
	case !h.has:
		return h.gap(lastHere.Sequence, fmt.Errorf("projections: the read of %s %s holds the %s event at %d, and the aggregate had no event up to %d",
			h.kind, h.id, lastHere.Type, lastHere.Sequence, h.through))
	}
	if p, ok := hashPrefix(lastHere.Hash); !ok || p != h.last {
		return h.gap(0, fmt.Errorf("projections: the last event read of %s %s up to %d, %s at %d, is not the aggregate's last event there",
			h.kind, h.id, h.through, lastHere.Type, lastHere.Sequence))
	}
	return nil
}

func (h ChainHead) gap(seq uint64, err error) error {
	return &events.TamperError{Seq: seq, Kind: events.TamperChain, Err: err}
}

package jsstore

import (
	"fmt"

	"github.com/tokenledger/tokenledger/events"
)

// misfiled is the evidence for a record of stream at seq stored under
// subject while its event's subject is another: the record was moved (its
// subject is not covered by the event's hash, signature or Merkle leaf),
// so that the subject-filtered reads miss it where its aggregate is. It is
// a byte edit of the stored record: [events.TamperEdited].
func misfiled(stream string, seq uint64, subject string, env *events.Envelope) error {
	return &events.TamperError{Seq: seq, Kind: events.TamperEdited,
		Err: fmt.Errorf("jsstore: stream %s: the %s event at sequence %d is stored under %s, not under its subject %s",
			stream, env.Type, seq, subject, env.Subject())}
}

package events

import (
	"errors"
	"fmt"
)

// Kinds of tampering a reader of the stream can detect (the Kind of a
// [TamperError]).
const (
	// TamperGap: a stream sequence is missing (the stream denies deletes,
	// so a hole is a removed or destroyed message).
	TamperGap = "gap"
	// TamperUnreadable: the stream says a message is stored at the
	// sequence, but it cannot be read (a damaged record the server
	// dropped) or does not decode as an event.
	TamperUnreadable = "unreadable"
	// TamperEdited: the event decodes but its bytes no longer match its
	// hash, or the record is stored under a subject other than its
	// event's (see [Envelope.StoredUnder]).
	TamperEdited = "edited"
	// TamperForged: the event was not signed by the ledger's key chain.
	TamperForged = "forged"
	// TamperChain: the event does not follow its aggregate's last event
	// (its prev names another event, or none when the aggregate has
	// events): a copy of a genuine event published again, an inserted
	// event, or one whose predecessor was removed.
	TamperChain = "chain"
)

// TamperError is evidence that the stream is not the history the ledger
// wrote: what was found (Kind, one of the Tamper* constants) and the first
// stream sequence concerned. Readers fail closed on it: they stop and say
// so, never skip.
type TamperError struct {
	Seq  uint64
	Kind string
	Err  error // the detail; never holds a secret
}

func (e *TamperError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("ledger tampered: %s event at sequence %d", e.Kind, e.Seq)
	}
	return fmt.Sprintf("ledger tampered: %s event at sequence %d: %v", e.Kind, e.Seq, e.Err)
}

func (e *TamperError) Unwrap() error { return e.Err }

// AsTamper returns the TamperError in err's chain, or nil.
func AsTamper(err error) *TamperError {
	var te *TamperError
	if errors.As(err, &te) {
		return te
	}
	return nil
}

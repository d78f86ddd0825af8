package service

import (
	"fmt"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections"
)

// A command folds its aggregate from a read of the aggregate's own
// subject. Each record that read returns is checked against the
// snapshot's tree while the whole-log check is pending, but a record
// deleted from the stream (or moved to another subject) while the ledger
// was stopped is simply not returned: the command would decide on a
// shortened history (a revoked token's revocation deleted: the token
// changed as if live). The restored aggregate chains know each
// aggregate's last event, so the read is also checked to be the whole
// chain up to what they applied; a gap is refused (503), and the
// whole-log check then names it and stops the service.

// chainHead is what the chains know of kind/id before a read, and
// whether the read must be checked against it (the check is pending).
func (c *wholeLogCheck) chainHead(kind, id string) (projections.ChainHead, bool) {
	if c == nil || c.chains == nil || kind == "" {
		return projections.ChainHead{}, false
	}
	if pending, _ := c.covers(1); !pending {
		return projections.ChainHead{}, false
	}
	return c.chains.Head(kind, id), true
}

// wholeChain refuses a read of one aggregate that is not its whole chain
// as far as head goes.
func (c *wholeLogCheck) wholeChain(head projections.ChainHead, evs []events.Envelope, fromStart bool) error {
	if err := head.Check(evs, fromStart); err != nil {
		return fmt.Errorf("%w: service: a record of the aggregate is missing from the stream (the start's whole-log check has not reached it yet): %w",
			commands.ErrUnavailable, err)
	}
	return nil
}

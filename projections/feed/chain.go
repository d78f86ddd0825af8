package feed

import (
	"strconv"
)

// PreviousHeader holds, on a feed event the publisher signed in the
// chained form ([ChainedSignedBytes]), the ledger sequence of the feed
// event before it (0 for the feed's first). A signature over it lets a
// reader tell that a genuine event is missing from the feed (cut out by
// whoever rewrote the stopped data dir): the next event names another
// predecessor than the last one the reader checked.
const PreviousHeader = "Ledger-Previous"

// chainedContext starts what the publisher signs for a chained feed event.
const chainedContext = "tokenledger feed event v2\n"

// ChainedSignedBytes is what the publisher signs for a feed event that
// names its predecessor: a context line, the subject it is stored under,
// its ledger sequence, the ledger sequence of the feed event before it,
// and its data.
func ChainedSignedBytes(subject string, ledgerSeq, previous uint64, data []byte) []byte {
	b := make([]byte, 0, len(chainedContext)+len(subject)+44+len(data))
	b = append(b, chainedContext...)
	b = append(b, subject...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, ledgerSeq, 10)
	b = append(b, '\n')
	b = strconv.AppendUint(b, previous, 10)
	b = append(b, '\n')
	return append(b, data...)
}

// signedBytes is what e's signature covers: the chained form when e names
// its predecessor, else the first form ([SignedBytes]).
func (e Event) signedBytes() ([]byte, bool) {
	if e.Previous == "" {
		return SignedBytes(e.Subject, e.LedgerSequence, e.Data), true
	}
	prev, err := strconv.ParseUint(e.Previous, 10, 64)
	if err != nil || strconv.FormatUint(prev, 10) != e.Previous {
		return nil, false
	}
	return ChainedSignedBytes(e.Subject, e.LedgerSequence, prev, e.Data), true
}

// PreviousSequence is the ledger sequence of the feed event before e as
// e's signature names it, and false for an event of the first form (no
// predecessor named). Call it after [Keys.Check] accepted e.
func (e Event) PreviousSequence() (uint64, bool) {
	if e.Previous == "" {
		return 0, false
	}
	prev, err := strconv.ParseUint(e.Previous, 10, 64)
	return prev, err == nil
}

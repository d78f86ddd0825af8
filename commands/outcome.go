package commands

import "errors"

// ErrOutcomeUnknown is returned (wrapped) by an EventStore whose append
// got no acknowledgement in time, e.g. while its cluster elects a new
// leader: the events may or may not be stored. Retrying the command with
// the same command id stores them at most once.
var ErrOutcomeUnknown = errors.New("outcome unknown")

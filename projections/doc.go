// Package projections holds tokenledger's read models: state derived from the
// LEDGER stream and nothing else. Each projection can be thrown away and
// rebuilt by replay.
//
// Every projection's Apply depends only on the event and the projection's
// prior state, and is idempotent by stream sequence: an event at or below the
// last applied sequence is ignored. Two replays of the same stream therefore
// yield identical state.
//
// Subpackages: tokenset (the current tokens, verification in well under a
// microsecond) and auditlog (every event with its actor and credential).
// [Runner] feeds any [Projection] from a [Source] and lets readers wait for
// a sequence (read-your-writes). [AsOf] and [AsOfTime] rebuild the token
// set as it was at a stream sequence or a time, by replay.
//
// This package and tokenset, directory and auditlog import only events (and
// the standard library). feed (the readers' token feed: its contract and
// follower) and verifier (a token set that follows the feed, for services
// to verify tokens locally) add the NATS client.
package projections

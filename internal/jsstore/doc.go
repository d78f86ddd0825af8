// Package jsstore is tokenledger's JetStream adapter: the event store the
// command handlers append through ([commands.EventStore]) and the source the
// projections read from ([projections.Source]), both backed by the one
// stream LEDGER.
//
// # The stream
//
// [Open] creates the stream with the audit-grade configuration of
// [StreamConfig] when it is missing, and otherwise refuses to open a stream
// that fails [CheckConfig] (deletes, purges, roll-ups or TTLs allowed, any
// retention limit, DiscardOld, memory storage, …). It never changes an
// existing stream's configuration.
//
// # Fail closed
//
// A [Store] watches the stream's update and delete advisories, and takes
// them as hints only: anyone able to publish on an advisory subject could
// forge one. After either it re-reads the stream (STREAM.INFO). While an
// update is being checked, while the configuration fails [CheckConfig], and
// for good once the stream was deleted, replaced, lost events or let
// foreign messages in (sources, a mirror, a subject transform), every
// Append returns an error wrapping [commands.ErrUnavailable] and
// [Store.Health] says why. A violation that left no damage (a limit added
// and removed again, nothing lost) clears when a later check finds the
// same stream fit.
//
// [Open] first checks that its user may do what the store needs and
// refuses with a [PermissionError] naming what is missing, and removes
// consumers on the stream that could deliver onto subjects the ledger
// listens to (logging each at ERROR).
//
// # Appends
//
// Every message carries Nats-Expected-Stream, and the aggregate's
// expectation as Nats-Expected-Last-Subject-Sequence with the filter
// ledger.<kind>.<id>.* in Nats-Expected-Last-Subject-Sequence-Subject (the
// same filter string for every write). One event is one synchronous publish;
// several are one atomic batch. Both conflict codes (10071, 10164) map to
// [commands.ErrConflict], after the single-replica idempotency trap is
// handled: a retried command (same MsgID) whose event is already stored
// returns that event's sequence instead of a conflict.
//
// # Reads
//
// [Store.Load] reads one aggregate with Direct Get batch requests (no
// consumer). [Store.Replay] and [Store.Follow] read the whole stream in order
// with an ordered consumer, which recreates itself after gaps, missed
// heartbeats or a deleted consumer, and resumes after the last delivered
// sequence.
//
// # Embedding
//
// [StartEmbedded] runs nats-server in the process with file storage;
// [DefaultEmbedded] is the production configuration (fsync on every write).
// With an owner password it has an account LedgerAccount (the stream,
// only the ledger's own user; it exports nothing), an account FeedAccount,
// where [EnsureFeed] keeps FeedStream and [FeedPublisher] projects the
// token events into it without the principals' personal data, and one
// account per
// reader (authenticated) that imports the feed's Direct Get and wake-ups:
// readers follow with [FollowFeed] using Direct Get and the republished
// wake-ups, without any consumer.
//
// The server itself listens on nothing: a [Front] owns the client
// listener and bridges each socket to an in-process connection of the
// server, bounding the sockets that have not signed in yet.
package jsstore

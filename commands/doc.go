// Package commands decides and carries out every change to the ledger.
//
// Each command has a pure decide function, (state, command, now) → an
// event payload or an error naming what is wrong (a [ValidationError] with
// the field, or a sentinel such as [ErrNotFound], [ErrGone], [ErrExists]).
// The [Handler] loads the aggregate from the [EventStore] and folds it (a
// state it folded before is brought up to date with only the events stored
// since, [EventStore.LoadAfter]), calls the decide function, seals the event into the aggregate's hash chain and
// appends it with the aggregate's last sequence as the expectation, so of
// two concurrent commands on one aggregate exactly one wins
// ([ErrConflict]). Commands that touch several aggregates (deleting a
// project, user or service account; claiming unique names) append one
// atomic batch.
//
// A command id (from a client's Idempotency-Key, or generated) makes a
// retried command harmless: it is recognised in the aggregate's events and
// nothing new is appended.
//
// Secrets are generated here in Unleash's shape with a CRC32 tail
// ([GenerateSecret]) and leave only as a [Secret], which redacts itself;
// events carry the SHA-256 verifier.
package commands

// Package feed is the contract of the readers' token feed: the stream
// LEDGER_TOKENS that a tokenledger server keeps on its embedded NATS
// listener for services (readers), and the code that follows it.
//
// The feed holds every stored token event of the ledger, in ledger order,
// numbered 1, 2, 3, … (its own sequence), each with its ledger sequence
// in the header Ledger-Sequence, on the subject
// ledger.token.<id>.<event> (created, scoped, expiry-changed, expired,
// revoked), and the deletions that revoke tokens at once, on
// ledger.<kind>.<id>.deleted for a project, an environment, a user and a
// service account ([DeletionSubjects]; the payload is empty: the feed
// names what was deleted, nothing more). A token stops verifying at the
// deletion of its environment, its owner or the last project it lists,
// as in the ledger's own token set; the ledger records its token.revoked
// (or token.scoped) after. Each event is an [Envelope]: the ledger's envelope without the
// acting principal's personal data and without secrets (a token.created
// carries the SHA-256 verifier of the secret, never the secret; an admin
// token's carries no verifier, so no reader verifies one). Acting on
// revocations needs the created events too: a revocation names the token's
// id, not its verifier.
//
// A reader follows with [Follow]: the feed republishes every event on its
// subject as it stores it, and a follower takes such a live event (see
// [IsWakeUp]) only at the feed sequence it expects next; otherwise it reads
// with Direct Get batches from the next sequence, so none is missed or
// applied twice and the reader keeps no state on the server. [Event.Envelope] turns a feed
// event into the [events.Envelope] the projections apply (its Sequence is
// the ledger sequence). projections/verifier builds the token set from it.
package feed

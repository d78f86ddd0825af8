// Package tokenset is the token set projection: every token the LEDGER
// stream created, with its current scope, expiry and revocation, indexed for
// verification on every request.
//
// A [Set] is fed events in stream order through [Set.Apply] and answers
// [Set.Verify] with the token and its [Status]: hash the presented secret
// with [events.Verifier], look the verifier up in a map, compare it in
// constant time, then check revocation and expiry. Verify allocates nothing
// and takes well under a microsecond; it is what services embed to check
// tokens locally.
//
// The Set holds no secret, only verifiers (SHA-256 of each whole secret).
// Apply depends only on the event and the prior state and is idempotent by
// stream sequence, so two replays of the same stream yield identical state;
// [Set.Digest] proves it.
package tokenset

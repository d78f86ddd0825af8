// Package verifier lets a service check tokenledger tokens locally, without
// asking the ledger on every request, and stop accepting a revoked token
// within milliseconds of its revocation.
//
// A [Verifier] connects to the ledger's NATS listener as a reader, replays
// the readers' token feed (projections/feed) into the ledger's own token
// set (projections/tokenset: the same projection the server verifies
// with), then follows it gap-free. [Verifier.Verify] hashes the presented
// secret, looks it up and compares it in constant time, and checks
// revocation and expiry at the moment of the call: an expired token fails
// even before the ledger records token.expired.
//
// It never serves an old set silently: when the feed has not been read to
// its end for longer than [Config.MaxStaleness] (NATS gone, the reader's
// permission withdrawn), Verify fails closed with [ErrStale] until the
// feed is reachable again; before the first catch-up it fails with
// [ErrNotReady]. [Verifier.Stats] shows the age of the last event and of
// the last catch-up. A token is rejected from the ledger sequence at which
// its project (the last it lists), environment or owner was deleted, as
// on the ledger, not only once its token.revoked arrives.
// [Config.OnRevoke] is called once per token that stops verifying as
// revoked, [Config.OnExpire] once per token.expired (a duplicate feed copy
// of a ledger event applies once), after the token set applied the event. [Verifier.Middleware] protects a
// net/http handler.
//
// What it trusts: the feed is written by the ledger only (readers cannot
// publish), but until the ledger signs its events, someone who can write
// the ledger's data dir could plant feed events; [Config.VerifyEvent] is
// the place to check a signature.
package verifier

// Package events is tokenledger's vocabulary: the envelope every event
// travels in, the typed payloads of each event type, and the JSON codec
// that turns one into the other.
//
// The package imports nothing else from tokenledger and does no I/O. Wire
// names (event types, JSON field names) are constants written out here and
// never derived from Go type names, so renaming a Go type cannot change the
// wire format.
//
// # Subjects
//
// Every event of an aggregate is stored on the subject
// ledger.<kind>.<id>.<event>, e.g. ledger.token.0193….revoked. The
// optimistic-concurrency filter for an aggregate is ledger.<kind>.<id>.*
// (see [Subject] and [AggregateFilter]).
//
// The token events are the contract services follow (the readers' feed,
// projections/feed, carries them without the principals' personal data):
// ledger.token.<id>.created, .scoped, .expiry-changed, .expired and
// .revoked, with the payloads [TokenCreated], [TokenScoped],
// [TokenExpiryChanged], [TokenExpired] and [TokenRevoked]. No payload holds
// a secret: token.created carries the SHA-256 verifier. A revocation names
// the token's id, not its verifier, so acting on revocations needs the
// created events too.
//
// # Schemas
//
// [Schema] returns the JSON Schema of every event type and version (the
// files in schema/, served by the ledger at /schemas/events/<name>), for
// consumers in other languages; the tests check every golden file against
// its schema.
//
// # Hash chain
//
// Each envelope records the hash of the previous event of the same aggregate
// (Prev, empty for the first) and its own SHA-256 over its canonical bytes
// (Hash). [Envelope.Seal] computes Hash, [Envelope.CheckHash] recomputes it,
// and [VerifyChain] checks one aggregate's events in order. Events sealed
// now are format 2 ("fmt":2, [FormatJCS]): the canonical bytes are RFC 8785
// (JSON Canonicalization Scheme) of the stored envelope object without its
// "hash" and "sig" members, which any language reproduces; Seal first makes
// every string valid UTF-8, so decoding and re-encoding an event never
// changes its hash. Format-1 events (no "fmt") keep their canonical bytes:
// Go's JSON encoding of the envelope with Hash left out; every field added
// to the envelope must therefore be omitempty, so that they hash to the
// bytes they were sealed with.
//
// # Signatures
//
// A format-2 event also names the ledger key that signed it (Key, the 8-hex
// id of a signed-note verifier key, inside the hashed bytes) and carries
// Sig, the base64 Ed25519 signature of the ASCII Hash ([Envelope.Sign],
// [Envelope.CheckSignature]). The key chain (which key signs which events,
// and [KeyRotated]) is followed by internal/ledgerkey. A reader that finds
// an event the ledger did not write, or a hole in the stream, reports a
// [TamperError].
//
// # Versions
//
// Each payload type has a schema version. Old versions stay decodable
// forever: golden files for every type and version live in testdata/ and are
// checked by the tests. A payload whose type is not registered decodes to
// [ErrUnknownType]; a known type with an unknown version to
// [ErrUnknownVersion].
package events

// Package integrity proves what the LEDGER stream holds: an RFC 6962
// Merkle tree over every stream message (golang.org/x/mod/sumdb/tlog),
// C2SP tlog-checkpoint signed notes of its root (golang.org/x/mod/sumdb/note,
// Ed25519), inclusion and consistency proofs, a streaming [Verifier] that
// names the first tampered sequence and the kind of tampering, and auditor
// bundles checked with a public key alone.
//
// Leaf i (0-based) of the tree is tlog.RecordHash of the data bytes of
// stream sequence i+1, exactly as stored; every message is a leaf, the
// log.checkpoint events included. The package is pure: it reads no stream
// and opens no connection; callers feed it records in sequence order.
package integrity

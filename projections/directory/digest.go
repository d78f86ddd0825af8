package directory

import (
	"crypto/sha256"
	"encoding/hex"
)

// Digest is the lowercase hex SHA-256 of the whole state as
// [Directory.AppendSnapshot] encodes it: LastApplied and every user,
// service account and role, project (members included) and environment
// with every field, deleted principals and projects included (deleted
// environments are removed). Two Directories that applied the same events
// have the same Digest; one that applied one more event (of any kind:
// LastApplied is state) has another.
//
// Compare digests of one build, do not store them: they change with the
// snapshot encoding.
func (d *Directory) Digest() string {
	sum := sha256.Sum256(d.AppendSnapshot(nil))
	return hex.EncodeToString(sum[:])
}

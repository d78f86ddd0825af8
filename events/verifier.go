package events

import (
	"crypto/sha256"
	"encoding/hex"
	"unsafe"
)

// Verifier is the stored form of a secret: the SHA-256 of the whole secret
// string. Secrets have at least 112 bits of entropy, so no salt or KDF is
// needed (the scheme Unleash's secure token storage uses too).
func Verifier(secret string) [32]byte {
	// The bytes are only read; viewing the string without copying keeps
	// verification free of allocations.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(secret), len(secret)))
}

// VerifierHex is Verifier encoded as the lowercase hex stored in events.
func VerifierHex(secret string) string {
	v := Verifier(secret)
	return hex.EncodeToString(v[:])
}

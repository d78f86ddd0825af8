// Package keytest makes ledger keys for tests: pairs whose 8-hex-digit key
// IDs (the 32-bit hash of name and public key that a signed note and a
// signed event name their key by) collide.
package keytest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// algEd25519 is the signed-note algorithm byte of an Ed25519 key.
const algEd25519 = 1

// CollidingKeys returns two different Ed25519 ledger keys with the same
// key ID: a found by a birthday search over the names "<prefix>-a<i>" and
// "<prefix>-b<j>" of two random keys (about 2^16 hashes each; the names
// are free, as they are for whoever makes a key). An attacker who must
// match one given ID searches 2^32 names instead: minutes of SHA-256.
func CollidingKeys(tb testing.TB, prefix string) (a, b *ledgerkey.Key) {
	tb.Helper()
	_, privA, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	_, privB, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	const each = 1 << 18 // 2^36 pairs against 2^32 IDs: a miss is e^-16 unlikely
	seen := make(map[uint32]int, each)
	pubA := privA.Public().(ed25519.PublicKey)
	for i := range each {
		seen[keyHash(fmt.Sprintf("%s-a%d", prefix, i), pubA)] = i
	}
	pubB := privB.Public().(ed25519.PublicKey)
	for j := range each {
		nameB := fmt.Sprintf("%s-b%d", prefix, j)
		if i, ok := seen[keyHash(nameB, pubB)]; ok {
			return key(tb, fmt.Sprintf("%s-a%d", prefix, i), privA), key(tb, nameB, privB)
		}
	}
	tb.Fatal("keytest: no colliding key IDs found")
	return nil, nil
}

// keyHash is the signed-note key hash of an Ed25519 key named name.
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte{algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// key is the ledger key of priv named name.
func key(tb testing.TB, name string, priv ed25519.PrivateKey) *ledgerkey.Key {
	tb.Helper()
	raw := append([]byte{algEd25519}, priv.Seed()...)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, keyHash(name, priv.Public().(ed25519.PublicKey)), base64.StdEncoding.EncodeToString(raw))
	k, err := ledgerkey.Parse(skey)
	if err != nil {
		tb.Fatalf("keytest: %v", err)
	}
	return k
}

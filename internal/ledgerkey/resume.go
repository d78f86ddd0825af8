package ledgerkey

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// State is what the Chain learned by following the stream so far: the
// verifier key of the current key ("" while no event was signed) and the
// sequence of the first signed event. A projection snapshot keeps it so
// that a restart resumes the chain where the snapshot ends.
func (c *Chain) State() (vkey string, firstSigned uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vkeys[c.current], c.firstSigned
}

// Resume sets the Chain to a State it had after following the stream up
// to some sequence, so that Check continues from the next event. vkey must
// be a key the Chain knows (given to NewChain or named by a key.rotated
// event it learned); "" resumes a chain that saw no signed event yet.
func (c *Chain) Resume(vkey string, firstSigned uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if vkey == "" {
		c.current, c.firstSigned = "", 0
		return nil
	}
	_, id, err := ParseVerifierKey(vkey)
	if err != nil {
		return err
	}
	if _, ok := c.known[id]; !ok || firstSigned == 0 {
		return fmt.Errorf("ledgerkey: resume with key %s, which the chain does not know", id)
	}
	c.current, c.firstSigned = id, firstSigned
	return nil
}

// DeriveKey derives a 32-byte secret for purpose from the signing key
// (HKDF-SHA-256 over its private seed): a MAC key the ledger alone can
// compute, for state it keeps beside the data dir. Different purposes
// give independent keys; none reveals the signing key.
func (k *Key) DeriveKey(purpose string) ([]byte, error) {
	out, err := hkdf.Key(sha256.New, k.priv.Seed(), nil, "tokenledger/"+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: derive a key for %s: %w", purpose, err)
	}
	return out, nil
}

package events

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// storedMatches reports whether hash is the SHA-256 of the RFC 8785 form
// of the stored object without "hash" and "sig", the recipe any language
// can follow: computed from the stored bytes themselves, so that a member
// the Go decoder would ignore or fold (unknown, duplicated, or named in
// another case) changes it. The Scanner reads the ledger's own form fast;
// anything else takes the general path, which refuses duplicate names.
func storedMatches(stored []byte, hash string) bool {
	sc := scanners.Get().(*Scanner)
	var f StoredFields
	ok := sc.Scan(stored, &f)
	scanners.Put(sc)
	if ok {
		return hex.EncodeToString(f.Sum[:]) == hash
	}
	var o map[string]jsontext.Value
	if err := json.Unmarshal(stored, &o); err != nil { // duplicate names are an error
		return false
	}
	delete(o, "hash")
	delete(o, "sig")
	b, err := json.Marshal(o)
	if err != nil {
		return false
	}
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		return false
	}
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:]) == hash
}

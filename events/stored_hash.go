package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// storedHash is the format-2 hash of the stored object itself: SHA-256 of
// RFC 8785 of the stored JSON object without its "hash" and "sig" members,
// what an auditor computes in any language. A record in the plain form the
// ledger writes is read by the Scanner (whose hash is this one for the
// records it takes); any other goes through jsontext as it is, unknown,
// re-cased members included, and a duplicate member is an error.
func storedHash(stored []byte) (string, error) {
	s := scanners.Get().(*Scanner)
	var f StoredFields
	ok := s.Scan(stored, &f)
	scanners.Put(s)
	if ok {
		return hex.EncodeToString(f.Sum[:]), nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(stored))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", errors.New("the stored event is not a JSON object")
	}
	out := []byte{'{'}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return "", err
		}
		name := tok.String() // the token is valid until the next read
		val, err := dec.ReadValue()
		if err != nil {
			return "", err
		}
		if name == "hash" || name == "sig" {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		if out, err = jsontext.AppendQuote(out, name); err != nil {
			return "", err
		}
		out = append(append(out, ':'), val...)
	}
	if _, err := dec.ReadToken(); err != nil {
		return "", err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return "", errors.New("bytes after the stored event")
	}
	v := jsontext.Value(append(out, '}'))
	if err := v.Canonicalize(); err != nil {
		return "", err
	}
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:]), nil
}

package service

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// appendSignedHead appends to dst the signed note of the checkpoint c (no
// extensions) signed by s, byte for byte what integrity.SignCheckpoint
// makes (note.Sign of c.Text()), without its checks of a text this
// function builds itself and without its allocations: the tree head is
// signed on the answer's path of every acknowledged write.
func appendSignedHead(dst []byte, c integrity.Checkpoint, s note.Signer) ([]byte, error) {
	if c.Origin != s.Name() || len(c.Extensions) != 0 {
		return nil, fmt.Errorf("service: sign tree head: origin %q, key %q, %d extensions", c.Origin, s.Name(), len(c.Extensions))
	}
	start := len(dst)
	dst = append(dst, c.Origin...)
	dst = append(dst, '\n')
	dst = strconv.AppendInt(dst, c.Size, 10)
	dst = append(dst, '\n')
	dst = base64.StdEncoding.AppendEncode(dst, c.Root[:])
	dst = append(dst, '\n')
	sig, err := s.Sign(dst[start:])
	if err != nil {
		return nil, fmt.Errorf("service: sign tree head: %w", err)
	}
	var hs [4 + 64]byte
	binary.BigEndian.PutUint32(hs[:4], s.KeyHash())
	n := copy(hs[4:], sig)
	dst = append(dst, "\n— "...)
	dst = append(dst, s.Name()...)
	dst = append(dst, ' ')
	dst = base64.StdEncoding.AppendEncode(dst, hs[:4+n])
	return append(dst, '\n'), nil
}

package integrity_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// rfc6962Root computes the RFC 6962 tree hash from the definition, to
// check the tree against (MTH of §2.1).
func rfc6962Root(leaves [][]byte) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := rfc6962Root(leaves[:k]), rfc6962Root(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func TestTreeRootMatchesRFC6962AtEverySize(t *testing.T) {
	tr := integrity.NewTree()
	var leaves [][]byte
	for n := 0; n <= 70; n++ {
		got, err := tr.Root(int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if want := rfc6962Root(leaves); got != want {
			t.Fatalf("root of %d: got %v, want %v", n, got, want)
		}
		d := []byte(fmt.Sprintf(`{"n":%d}`, n))
		leaves = append(leaves, d)
		if err := tr.Append(d); err != nil {
			t.Fatal(err)
		}
	}
	// Roots of earlier sizes stay answerable.
	for n := 0; n <= 71; n++ {
		got, _ := tr.Root(int64(n))
		if want := rfc6962Root(leaves[:n]); got != want {
			t.Fatalf("root of %d after growth: got %v, want %v", n, got, want)
		}
	}
}

func TestTreeInclusionAndConsistencyProofsCheck(t *testing.T) {
	tr := integrity.NewTree()
	const n = 37
	for i := 0; i < n; i++ {
		if err := tr.Append([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for size := int64(1); size <= n; size++ {
		root, _ := tr.Root(size)
		for seq := uint64(1); seq <= uint64(size); seq++ {
			p, err := tr.InclusionProof(seq, size)
			if err != nil {
				t.Fatal(err)
			}
			leaf := tlog.RecordHash([]byte{byte(seq - 1)})
			if err := integrity.CheckInclusion(p, size, root, seq, leaf); err != nil {
				t.Fatalf("record %d in %d: %v", seq, size, err)
			}
			other := tlog.RecordHash([]byte{byte(seq)})
			if err := integrity.CheckInclusion(p, size, root, seq, other); err == nil {
				t.Fatalf("record %d in %d: another leaf's proof checked", seq, size)
			}
		}
		for from := int64(1); from <= size; from++ {
			p, err := tr.ConsistencyProof(from, size)
			if err != nil {
				t.Fatal(err)
			}
			fromRoot, _ := tr.Root(from)
			if err := integrity.CheckConsistency(p, size, root, from, fromRoot); err != nil {
				t.Fatalf("%d in %d: %v", from, size, err)
			}
			if from < size {
				bad := fromRoot
				bad[0] ^= 1
				if err := integrity.CheckConsistency(p, size, root, from, bad); err == nil {
					t.Fatalf("%d in %d: a wrong old root checked", from, size)
				}
			}
		}
	}
}

func TestTreeRefusesSizesItDoesNotHold(t *testing.T) {
	tr := integrity.NewTree()
	_ = tr.Append([]byte("a"))
	_ = tr.Append([]byte("b"))
	for name, err := range map[string]error{
		"root beyond":      func() error { _, err := tr.Root(3); return err }(),
		"root negative":    func() error { _, err := tr.Root(-1); return err }(),
		"proof seq 0":      func() error { _, err := tr.InclusionProof(0, 2); return err }(),
		"proof seq > size": func() error { _, err := tr.InclusionProof(2, 1); return err }(),
		"proof size > n":   func() error { _, err := tr.InclusionProof(1, 3); return err }(),
		"consistency back": func() error { _, err := tr.ConsistencyProof(2, 1); return err }(),
		"consistency 0":    func() error { _, err := tr.ConsistencyProof(0, 2); return err }(),
		"consistency > n":  func() error { _, err := tr.ConsistencyProof(1, 3); return err }(),
	} {
		if !errors.Is(err, integrity.ErrSize) {
			t.Errorf("%s: got %v, want ErrSize", name, err)
		}
	}
}

func TestTreeStoresAboutTwoHashesPerRecord(t *testing.T) {
	if got := tlog.StoredHashCount(1 << 20); got > 2<<20 || integrity.BytesPerRecord != 64 {
		t.Fatalf("stored hashes for 2^20 records: %d; BytesPerRecord %d", got, integrity.BytesPerRecord)
	}
}

func TestTreeStoresWhatTlogStores(t *testing.T) {
	tr := integrity.NewTree()
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	for n := int64(0); n < 1100; n++ {
		d := []byte(fmt.Sprint(n))
		add, err := tlog.StoredHashes(n, d, reader)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, add...)
		if err := tr.Append(d); err != nil {
			t.Fatal(err)
		}
		want, _ := tlog.TreeHash(n+1, reader)
		if got, _ := tr.Root(n + 1); got != want {
			t.Fatalf("root of %d: got %v, tlog's stored hashes give %v", n+1, got, want)
		}
	}
}

package service

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// The key history's unsigned root is the integrity tree's root over the
// same records, at every size.
func TestTheUnsignedRootIsTheIntegrityTreeRoot(t *testing.T) {
	tree := integrity.NewTree()
	var f frontier
	for n := 1; n <= 70; n++ {
		data := []byte(fmt.Sprintf("record %d", n))
		if err := tree.Append(data); err != nil {
			t.Fatal(err)
		}
		f.add(tlog.RecordHash(data))
		want, err := tree.Root(int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.root(); got != want {
			t.Fatalf("size %d: frontier root %s, tree root %s", n, got, want)
		}
	}
}

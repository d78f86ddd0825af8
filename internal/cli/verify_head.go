package cli

import (
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// withHead refines a data dir's verdict with the signed tree head the
// ledger keeps beside it (kept, read from keptFile) and the leaves beside
// the head: when the records do not extend the head, the leaves name the
// first record that differs (a record removed and the later ones
// renumbered, one replaced, the last ones cut), which the head's root
// alone cannot. The earlier of that and r's finding stands; an
// alteration r names over a range yields to it (the leaves prove the
// records before it are the ones the ledger signed).
func withHead(r integrity.Report, tree *integrity.Tree, vkey string, kept []byte, keptFile string) integrity.Report {
	if kept == nil {
		return r
	}
	keys, err := parseKeys(vkey)
	if err != nil {
		return r
	}
	head, err := integrity.OpenCheckpoint(kept, keys)
	if err != nil {
		return r // verifierFor refused it already
	}
	var leaves *integrity.TailLeaves
	if b, err := integrity.ReadKeptFile(keptFile+integrity.LeavesSuffix, integrity.MaxLeavesBytes); err == nil {
		if l, err := integrity.ParseLeaves(b); err == nil {
			leaves = &l
		}
	}
	f := integrity.LocateInHead(tree, head, leaves, "the ledger's kept tree head")
	if f != nil && (r.Finding == nil || f.Seq < r.Finding.Seq || r.Finding.Kind == integrity.KindAltered) {
		r.Finding = f
	}
	return r
}

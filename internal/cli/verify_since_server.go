package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// sinceBeyondServed handles an auditor's kept checkpoint (since) that
// signs more records than the server's latest checkpoint (served): the
// tree head a ledger keeps beside its data dir counts the checkpoint event
// after the stream's last checkpoint, and an idle ledger serves no
// checkpoint that reaches it. That is no tail-truncation when the server's
// tree still holds the kept one: its consistency route proves the served
// signed tree a prefix of the kept signed tree. The records past the
// served checkpoint are not in its bundles, though, so verify cannot prove
// them: since is then dropped (nothing to name) and beyond says why
// verify could not verify the kept checkpoint. A server whose tree is
// shorter than the kept checkpoint (it refuses the proof as out of range),
// or whose proof does not verify, keeps since: verify names
// tail-truncation. Any other failure to ask is an error.
func sinceBeyondServed(ctx context.Context, cl *client, vkey string, served, since []byte) (keep []byte, beyond, err error) {
	if since == nil {
		return nil, nil, nil
	}
	keys, err := parseKeys(vkey)
	if err != nil {
		return since, nil, nil // verifierFor says so
	}
	kept, err1 := integrity.OpenCheckpoint(since, keys)
	srv, err2 := integrity.OpenCheckpoint(served, keys)
	if err1 != nil || err2 != nil || kept.Size <= srv.Size || srv.Size < 1 {
		return since, nil, nil // verifierFor refuses what does not open; a kept one not past the served one is checked as it is
	}
	var c struct {
		From     int64    `json:"from"`
		To       int64    `json:"to"`
		FromRoot string   `json:"fromRoot"`
		ToRoot   string   `json:"toRoot"`
		Proof    []string `json:"proof"`
	}
	err = cl.getWaiting(ctx, fmt.Sprintf("/api/ledger/proof/consistency?from=%d&to=%d", srv.Size, kept.Size), &c)
	var api *APIError
	if errors.As(err, &api) && api.Status == http.StatusUnprocessableEntity {
		return since, nil, nil // the server's tree is shorter than the kept checkpoint
	}
	if err != nil {
		return nil, nil, err
	}
	proof := make(tlog.TreeProof, 0, len(c.Proof))
	for _, h := range c.Proof {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return since, nil, nil
		}
		proof = append(proof, tlog.Hash(b))
	}
	if c.From != srv.Size || c.To != kept.Size || integrity.CheckConsistency(proof, kept.Size, kept.Root, srv.Size, srv.Root) != nil {
		return since, nil, nil
	}
	return nil, fmt.Errorf("the kept checkpoint signs %d records and the server's latest checkpoint %d: the server's tree is consistent with the kept one, "+
		"but its bundles do not reach records %d to %d until its next checkpoint (after new events): verify again then, or verify --data-dir on the stopped ledger",
		kept.Size, srv.Size, srv.Size+1, kept.Size), nil
}

// checkpointPath is GET /api/ledger/checkpoint asking, with min_size, for
// a checkpoint of at least minSize records (a kept checkpoint's size;
// 0: none), so that a replica still applying the records another
// replica's kept head signs answers once it applied and signed them
// rather than with a shorter checkpoint.
func checkpointPath(minSize uint64) string {
	if minSize > 0 {
		return fmt.Sprintf("/api/ledger/checkpoint?min_size=%d", minSize)
	}
	return "/api/ledger/checkpoint"
}

// keptSize is the size a kept signed checkpoint states, unverified (only
// a wait depends on it: verify checks the note itself); 0 when it does
// not parse.
func keptSize(kept []byte) uint64 {
	text, _, _ := strings.Cut(string(kept), "\n\n")
	if cp, err := integrity.ParseCheckpoint(text + "\n"); err == nil && cp.Size > 0 {
		return uint64(cp.Size)
	}
	return 0
}

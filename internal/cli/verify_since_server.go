package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// sinceBeyondServed handles an auditor's kept checkpoint (since) that
// signs more records than the server's latest checkpoint (served): the
// tree head a ledger keeps beside its data dir counts the checkpoint event
// after the stream's last checkpoint, and an idle ledger serves no
// checkpoint that reaches it. The records past the served checkpoint are
// not in its bundles, but its consistency route proves that the served
// signed tree is a prefix of the kept one within the server's tree: then
// the kept checkpoint is accounted for (nil is returned: nothing more to
// trust). A server whose tree is shorter than the kept checkpoint (it
// refuses the proof as out of range) keeps since: verify names
// tail-truncation; a proof that does not verify keeps it too (the stream
// is then checked against it, and does not reach it). Any other failure
// to ask is an error: could not verify.
func sinceBeyondServed(ctx context.Context, cl *client, env *Env, vkey string, served, since []byte) ([]byte, error) {
	if since == nil {
		return nil, nil
	}
	keys, err := parseKeys(vkey)
	if err != nil {
		return since, nil // verifierFor says so
	}
	kept, err1 := integrity.OpenCheckpoint(since, keys)
	srv, err2 := integrity.OpenCheckpoint(served, keys)
	if err1 != nil || err2 != nil || kept.Size <= srv.Size || srv.Size < 1 {
		return since, nil // verifierFor refuses what does not open; a kept one not past the served one is checked as it is
	}
	var c struct {
		From     int64    `json:"from"`
		To       int64    `json:"to"`
		FromRoot string   `json:"fromRoot"`
		ToRoot   string   `json:"toRoot"`
		Proof    []string `json:"proof"`
	}
	err = cl.do(ctx, "GET", fmt.Sprintf("/api/ledger/proof/consistency?from=%d&to=%d", srv.Size, kept.Size), nil, &c)
	var api *APIError
	if errors.As(err, &api) && api.Status == http.StatusUnprocessableEntity {
		return since, nil // the server's tree is shorter than the kept checkpoint
	}
	if err != nil {
		return nil, err
	}
	proof := make(tlog.TreeProof, 0, len(c.Proof))
	for _, h := range c.Proof {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return since, nil
		}
		proof = append(proof, tlog.Hash(b))
	}
	if c.From != srv.Size || c.To != kept.Size || integrity.CheckConsistency(proof, kept.Size, kept.Root, srv.Size, srv.Root) != nil {
		return since, nil
	}
	fmt.Fprintf(env.Stderr, "tokenledger: the kept checkpoint signs %d records, the server's latest %d: its tree proves the kept checkpoint extends that one (the records after %d are not in its bundles until its next checkpoint)\n",
		kept.Size, srv.Size, srv.Size)
	return nil, nil
}

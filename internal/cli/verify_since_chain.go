package cli

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// sinceChain follows the ledger's key chain through a bundle range that
// does not start at 1, from the auditor's kept checkpoint on: the key
// that signed it is the key current at its size, every record after it
// must be signed by the key the chain has reached (a key.rotated signed by
// the key it retires moves it on), and the range's checkpoint must be
// signed by the key current at its end. Without it a retired key's holder
// extended the kept tree with records of their own under a head the
// retired key signed (every key of the chain is given), and the
// consistency proof held.
type sinceChain struct {
	kept   integrity.Checkpoint
	chain  *ledgerkey.Chain
	starts []string // the IDs of the keys that signed the kept checkpoint
}

// newSinceChain starts the chain at the keys (of vkeys, one a line) that
// signed the kept checkpoint since. from is the range's first sequence:
// records between the kept checkpoint and the range would be unseen (a
// rotation among them too), so the range must start right after it.
func newSinceChain(since []byte, keys note.Verifiers, vkeys string, from uint64) (*sinceChain, error) {
	kept, err := integrity.OpenCheckpoint(since, keys)
	if err != nil {
		return nil, &exitError{ExitError, sinceCheckpointError(err)}
	}
	if from > uint64(kept.Size)+1 {
		return nil, fmt.Errorf("could not verify: the bundle starts at sequence %d, the kept checkpoint signs %d records: "+
			"the records between them are not in it (export it with --from-seq %d --since %d)", from, kept.Size, kept.Size+1, kept.Size)
	}
	var start []string
	for _, k := range strings.Fields(vkeys) {
		v, err := note.NewVerifier(k)
		if err == nil && v.Name() == kept.Origin && slices.Contains(kept.Signers, fmt.Sprintf("%08x", v.KeyHash())) {
			start = append(start, k)
		}
	}
	c, err := ledgerkey.NewChain(start...)
	if err != nil {
		return nil, err
	}
	return &sinceChain{kept: kept, chain: c, starts: kept.Signers}, nil
}

// add checks the part's records after the kept checkpoint, in order.
// Their hashes and signatures are first checked on all CPUs
// (ledgerkey.Chain.Precheck); the chain then takes them one by one, as
// the service's replay does, and checks in full (naming what is wrong)
// any record whose precheck failed or whose key it did not know yet.
func (s *sinceChain) add(b *integrity.Bundle) *integrity.Finding {
	envs := make([]events.Envelope, 0, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		if e.Seq <= uint64(s.kept.Size) {
			continue // under the kept checkpoint, which the consistency proof extends
		}
		env, err := events.Unmarshal(e.Data)
		if err != nil {
			if f := s.check(envs); f != nil { // an earlier record's finding comes first
				return f
			}
			return &integrity.Finding{Seq: e.Seq, Kind: integrity.KindForgery, Detail: fmt.Sprintf("%s event %s: %v", env.Type, env.ID, err)}
		}
		env.Sequence = e.Seq
		envs = append(envs, env)
	}
	return s.check(envs)
}

// check takes consecutive records into the chain: prechecked on all CPUs,
// then in order.
func (s *sinceChain) check(envs []events.Envelope) *integrity.Finding {
	s.chain.Precheck(envs)
	for i := range envs {
		if err := s.chain.Check(envs[i]); err != nil {
			return &integrity.Finding{Seq: envs[i].Sequence, Kind: integrity.KindForgery, Detail: fmt.Sprintf("%s event %s: %v", envs[i].Type, envs[i].ID, err)}
		}
	}
	return nil
}

// anchor checks that the range's checkpoint is signed by the key current
// at the range's end (last): a finding when the range ends at its size,
// an error (could not verify) when records past the range, and a rotation
// among them, are unseen.
func (s *sinceChain) anchor(cp integrity.Checkpoint, last uint64) (*integrity.Finding, error) {
	cur := s.starts
	if id := s.chain.CurrentID(); id != "" {
		cur = []string{id}
	}
	for _, id := range cur {
		if slices.Contains(cp.Signers, id) {
			return nil, nil
		}
	}
	if last == uint64(cp.Size) {
		return &integrity.Finding{Seq: last, Kind: integrity.KindForgery,
			Detail: fmt.Sprintf("the bundle's checkpoint of %d records is not signed by the key the ledger's chain is at there (%s)", cp.Size, strings.Join(cur, ", "))}, nil
	}
	return nil, fmt.Errorf("could not verify: the bundle's checkpoint of %d records is not signed by the key the ledger's chain is at by sequence %d, "+
		"and the records after it are not in the bundle (export the range up to the checkpoint's size)", cp.Size, last)
}

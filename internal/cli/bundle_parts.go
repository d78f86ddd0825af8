package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// A range longer than one bundle answer (bundlePage events, the server's
// limit per request) is exported as several bundles, its parts, written
// one after another into one file (a JSON stream of tokenledger-bundle/1
// documents; a range that fits is one document, as before). The first
// part is under the latest checkpoint when it was asked for (its anchor);
// each later part carries the consistency proof from the anchor's size to
// the checkpoint it was served under, so that together they prove every
// record of the range at its sequence in the anchor's signed tree. Each
// part is read, written and verified on its own: memory holds one part.

// exportSummary says what exportParts wrote.
type exportSummary struct {
	from, to uint64
	events   int
	parts    int
}

// exportParts asks the server for the bundle parts of from..to (0: 1 and
// the latest checkpoint's size), the first with a consistency proof from
// since, and writes them to w as they come. It first asks for a
// checkpoint of at least since and to records (min_size).
func exportParts(ctx context.Context, cl *client, from, to, since uint64, w io.Writer) (exportSummary, error) {
	var sum exportSummary
	if from == 0 {
		from = 1
	}
	end := to
	if end > 0 {
		// A replica still applying the records of the range (or of the
		// kept checkpoint since) waits for them when asked (min_size);
		// the bundle route does not (atk-r29).
		if err := cl.getWaiting(ctx, checkpointPath(max(since, to)), &struct{}{}); err != nil {
			return sum, err
		}
	} else {
		var cp struct {
			Size uint64 `json:"size"`
		}
		if err := cl.getWaiting(ctx, checkpointPath(since), &cp); err != nil {
			return sum, err
		}
		end = cp.Size
		if from > end {
			// An auditor's next incremental export on a ledger that
			// recorded nothing since the last one: exit 4 (not found), so
			// that a cron job can tell it from a failure.
			return sum, &exitError{ExitNotFound, fmt.Errorf("nothing to export: the ledger's latest checkpoint covers sequences 1 to %d, none from %d on yet (export again later, or keep this checkpoint: verify --server --since-checkpoint proves the ledger still extends it)", end, from)}
		}
	}
	var anchor uint64
	next := from
	for {
		last := min(end, next+bundlePage-1)
		if next > end { // only when the server answers with a range it was not asked for
			return sum, fmt.Errorf("the server's bundles do not reach sequence %d", end)
		}
		q := url.Values{}
		q.Set("from_seq", fmt.Sprint(next))
		q.Set("to_seq", fmt.Sprint(last))
		switch {
		case sum.parts == 0 && since > 0:
			q.Set("since", fmt.Sprint(since))
		case sum.parts > 0:
			q.Set("since", fmt.Sprint(anchor))
		}
		var b integrity.Bundle
		if err := cl.getWaiting(ctx, "/api/ledger/bundle?"+q.Encode(), &b); err != nil {
			return sum, err
		}
		raw, err := integrity.MarshalBundle(&b)
		if err != nil {
			return sum, err
		}
		if _, err := integrity.ReadBundle(bytes.NewReader(raw)); err != nil {
			return sum, fmt.Errorf("the server's answer is not a bundle: %w", err)
		}
		if b.FromSeq != next || b.ToSeq != last || len(b.Events) != int(last-next+1) {
			return sum, fmt.Errorf("the server answered sequences %d to %d (%d events), asked %d to %d", b.FromSeq, b.ToSeq, len(b.Events), next, last)
		}
		if sum.parts == 0 {
			cp, err := integrity.ParseCheckpoint(noteText(b.Checkpoint))
			if err != nil {
				return sum, fmt.Errorf("the server's bundle checkpoint: %w", err)
			}
			anchor = uint64(cp.Size)
			if to == 0 {
				end = anchor // the whole log its first checkpoint signs
			}
			sum.from = b.FromSeq
		}
		if _, err := w.Write(raw); err != nil {
			return sum, err
		}
		sum.parts++
		sum.events += len(b.Events)
		sum.to = b.ToSeq
		if b.ToSeq >= end {
			return sum, nil
		}
		next = b.ToSeq + 1
	}
}

// noteText is the text of a signed note, before its blank line and
// signatures (parsed only to learn the size; verify checks signatures).
func noteText(signed string) string {
	if i := bytes.Index([]byte(signed), []byte("\n\n")); i >= 0 {
		return signed[:i+1]
	}
	return signed
}

// partLimit bounds the bytes one bundle part may take: reset before each
// part, so that a file of many parts is read whole but no single part
// holds more than integrity.MaxBundleBytes in memory.
type partLimit struct {
	r    io.Reader
	left int64
}

func (l *partLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("integrity: read bundle: a part is larger than %d bytes", integrity.MaxBundleBytes)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// eachPart calls fn with every bundle part of the files, in order.
func eachPart(paths []string, fn func(path string, b *integrity.Bundle) error) error {
	for _, path := range paths {
		f, err := openInput(path)
		if err != nil {
			return err
		}
		lim := &partLimit{r: bufio.NewReaderSize(f, 1<<20)}
		dec := json.NewDecoder(lim)
		dec.DisallowUnknownFields()
		for n := 0; ; n++ {
			lim.left = integrity.MaxBundleBytes
			var b integrity.Bundle
			err := dec.Decode(&b)
			if errors.Is(err, io.EOF) && n > 0 {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: part %d: integrity: read bundle: %w", path, n+1, err)
			}
			if b.Format != integrity.BundleFormat {
				f.Close()
				return fmt.Errorf("%s: part %d: integrity: read bundle: format %q, want %q", path, n+1, b.Format, integrity.BundleFormat)
			}
			if err := fn(path, &b); err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
	}
	return nil
}

// errFound stops eachPart once a part holds tampering.
var errFound = errors.New("tampering found")

// verifyBundleParts verifies the bundle parts in the files: each part
// alone (integrity.VerifyBundle: its checkpoint's signature, its records
// proven at their sequences); the first against since (an auditor's kept
// checkpoint), each later one against the first part's checkpoint (the
// anchor: same tree, or a proven extension of it). The parts must follow
// one another without a gap or an overlap; the set is complete when it
// runs from 1 to the anchor's size. From sequence 1, the records are also
// checked as a stream (hash chains, the stream's own checkpoints).
func verifyBundleParts(paths []string, vkey string, since []byte) (verifyReport, error) {
	rep := verifyReport{Source: "bundle " + paths[0], VerifierKey: vkey}
	if len(paths) > 1 {
		rep.Source = fmt.Sprintf("bundles %s … %s (%d files)", paths[0], paths[len(paths)-1], len(paths))
	}
	keys, err := parseKeys(vkey)
	if err != nil {
		return rep, usagef("--key: %v", err)
	}
	var (
		anchor     []byte
		anchorCp   integrity.Checkpoint
		first      uint64
		next       uint64
		parts      int
		stream     *integrity.Verifier
		streamKeys keyChain
		follow     *sinceChain
		checkpoint = map[string]bool{}
	)
	found := func(f *integrity.Finding) error {
		rep.Kind, rep.Seq, rep.Detail = string(f.Kind), f.Seq, f.Detail
		if parts > 0 {
			rep.Detail = fmt.Sprintf("%s (bundle part %d)", f.Detail, parts+1)
		}
		return errFound
	}
	err = eachPart(paths, func(path string, b *integrity.Bundle) error {
		kept := since
		if parts > 0 {
			kept = anchor
			switch {
			case b.FromSeq > next:
				return found(&integrity.Finding{Seq: next, Kind: integrity.KindDeletion,
					Detail: fmt.Sprintf("the bundle parts lack sequences %d to %d", next, b.FromSeq-1)})
			case b.FromSeq < next:
				return found(&integrity.Finding{Seq: b.FromSeq, Kind: integrity.KindReorder,
					Detail: fmt.Sprintf("a bundle part starts at sequence %d, after sequence %d", b.FromSeq, next-1)})
			case b.ToSeq > uint64(anchorCp.Size):
				return fmt.Errorf("%s: a bundle part ends at sequence %d, past the first part's checkpoint of %d records", path, b.ToSeq, anchorCp.Size)
			}
		}
		br, err := integrity.VerifyBundle(b, keys, nil, kept)
		var fnd *integrity.Finding
		if errors.As(err, &fnd) {
			return found(fnd)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if parts == 0 {
			// The note as the key signed it, not as the file holds it
			// (lines of unknown keys dropped): what is printed and kept.
			anchor, anchorCp = br.Note, br.Checkpoint
			first = b.FromSeq
			if b.FromSeq == 1 {
				// The stream follows the key chain (as --data-dir does):
				// the records after the last checkpoint in the bundle must
				// be signed by the key current there, not by any key
				// given. The anchor is not trusted for that: a retired
				// key, given for the checkpoints before its rotation,
				// signs a valid anchor over records of its holder's own.
				if streamKeys, err = newKeyChain(vkey); err != nil {
					return err
				}
				stream = integrity.NewVerifier(integrity.Config{Keys: keys, Signatures: streamKeys})
			} else if since != nil {
				// A later range, from the auditor's kept checkpoint on:
				// the chain starts at the key that signed it.
				if follow, err = newSinceChain(since, keys, vkey, b.FromSeq); err != nil {
					return err
				}
			}
		}
		if follow != nil {
			if f := follow.add(b); f != nil {
				return found(f)
			}
		}
		checkpoint[string(br.Note)] = true
		if stream != nil {
			recs := make([][]byte, len(b.Events))
			for i := range b.Events {
				recs[i] = b.Events[i].Data
			}
			_ = stream.AddBatch(b.FromSeq, recs)
		}
		rep.Records += uint64(len(b.Events))
		rep.LastSeq = b.ToSeq
		next = b.ToSeq + 1
		parts++
		return nil
	})
	if errors.Is(err, errFound) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	if follow != nil {
		f, err := follow.anchor(anchorCp, rep.LastSeq)
		if err != nil {
			return rep, err
		}
		if f != nil {
			rep.Kind, rep.Seq, rep.Detail = string(f.Kind), f.Seq, f.Detail
			return rep, nil
		}
	}
	rep.Checkpoint, rep.Proven, rep.Checkpoints = string(anchor), anchorCp.Size, len(checkpoint)
	rep.Root = fmt.Sprintf("%v", anchorCp.Root)
	rep.Complete = first == 1 && rep.LastSeq == uint64(anchorCp.Size)
	if stream != nil {
		if f := stream.Finish(0).Finding; f != nil {
			rep.Kind, rep.Seq, rep.Detail = string(f.Kind), f.Seq, f.Detail
			rep.Complete = false
			return rep, nil
		}
		// The anchor of a range that ends at its size must be signed by
		// the key the chain is at there: a retired key's is not kept
		// (it would start the next --since-checkpoint at that key).
		// A range that ends before it cannot tell (a rotation after the
		// range is unseen): its anchor is not handed over to keep.
		if id := streamKeys.CurrentKey(); id != "" && !slices.Contains(anchorCp.Signers, id) {
			rep.Checkpoint = ""
			if rep.LastSeq == uint64(anchorCp.Size) {
				rep.Kind, rep.Seq = string(integrity.KindForgery), rep.LastSeq
				rep.Detail = fmt.Sprintf("the bundle's checkpoint of %d records is not signed by the key the ledger's chain is at there (%s)", anchorCp.Size, id)
				rep.Complete = false
				return rep, nil
			}
		}
	}
	rep.Intact = true
	return rep, nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// Exit codes of verify, besides ExitOK (intact), ExitError (could not
// verify: unreadable input, unreachable server) and ExitUsage.
const (
	// ExitTampered: verify found tampering; the first bad sequence and
	// the kind are printed (and in --json).
	ExitTampered = 7
)

// DataDir is what Env.ReadDataDir found beside and in a data dir.
type DataDir struct {
	// LastSeq is the stream's last sequence as its store reports it.
	LastSeq uint64
	// KeyFile and KeptFile are the ledger's key file and kept checkpoint
	// beside the data dir ("" when absent).
	KeyFile, KeptFile string
}

// verifyReport is verify's --json output.
type verifyReport struct {
	Source      string `json:"source"`
	Intact      bool   `json:"intact"`
	Records     uint64 `json:"records"`
	LastSeq     uint64 `json:"lastSeq"`
	Checkpoints int    `json:"checkpoints"`
	// Proven is the largest tree size a signed checkpoint proved.
	Proven      int64  `json:"proven"`
	Root        string `json:"root,omitempty"`
	VerifierKey string `json:"verifierKey"`
	// Checkpoint is the newest verified checkpoint (a signed note): keep
	// it, and give it to --since-checkpoint next time.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Kind and Seq name the first tampering (when not intact).
	Kind   string `json:"kind,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Complete is set for a bundle that holds the whole log its
	// checkpoint signs.
	Complete bool `json:"complete,omitempty"`
}

func newVerify(env *Env) *cobra.Command {
	var dataDir, since string
	var bundles []string
	var keyFlags []string
	var progress bool
	cmd := &cobra.Command{
		Use:   "verify (--data-dir DIR | --server URL | --bundle FILE --key PUBKEY)",
		Short: "Prove the ledger's stream complete and unaltered, or name the first tampered sequence",
		Long: `Verify checks sequence continuity, every event's hash and its aggregate's hash chain,
and the Merkle tree root against every signed checkpoint; it names the first bad sequence
and the kind of tampering: byte-edit, deletion, insertion, reorder, truncation,
tail-truncation, fork, or altered (a range whose signed root does not match).

  --data-dir DIR   a data dir (the ledger stopped): read from a copy, never changed; the key
                   and the checkpoint the ledger keeps beside it are used when present
  --server URL     a running ledger (` + EnvToken + ` must be an admin): reads it in bundles
  --bundle FILE    an auditor bundle (tokenledger export --bundle), with --key alone; a file
                   of several parts, or several --bundle files in order, are proven together
                   (contiguous, each part under the first part's signed tree): complete when
                   they run from 1 to its size. Memory holds one part at a time.

--key is the ledger's public verifier key (<name>+<hash>+<base64>, or @FILE holding it); give
it whenever you can: without it verify trusts the key found beside the data dir or served.
--since-checkpoint FILE is a checkpoint you kept earlier (a signed note): verify proves the
log still extends it (a shorter log is tail-truncation, another history a fork).

Exit codes: 0 intact, 7 tampering found (kind and sequence printed), 1 could not verify,
2 usage, 3 not authorised (--server).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sources := 0
			for _, s := range []bool{dataDir != "", len(bundles) > 0, cmd.Flag("server").Changed} {
				if s {
					sources++
				}
			}
			if sources != 1 {
				return usagef("give exactly one of --data-dir, --server and --bundle")
			}
			if len(bundles) > 0 && len(keyFlags) == 0 {
				return usagef("--bundle needs --key: the bundle proves nothing without the ledger's public key")
			}
			var kept []byte
			if since != "" {
				b, err := readInput(since, integrity.MaxNoteBytes)
				if err != nil {
					return usagef("--since-checkpoint: %v", err)
				}
				kept = b
			}
			var given []string
			for _, f := range keyFlags {
				k, err := readKeyFlag(f)
				if err != nil {
					return err
				}
				given = append(given, k)
			}
			vkey := strings.Join(given, "\n") // every key of a rotation chain, one a line

			p := newProgress(env, progress)
			var rep verifyReport
			var err error
			switch {
			case dataDir != "":
				rep, err = verifyDataDir(cmd.Context(), env, dataDir, vkey, kept, p)
			case len(bundles) > 0:
				rep, err = verifyBundleParts(bundles, vkey, kept)
			default:
				rep, err = verifyServer(cmd, env, vkey, kept, p)
			}
			p.done()
			if err != nil {
				return err
			}
			return printVerify(cmd, rep)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "verify this data dir (read from a copy)")
	cmd.Flags().StringArrayVar(&bundles, "bundle", nil, "verify this auditor bundle (with --key); repeat it for the parts of one range, in order")
	cmd.Flags().StringArrayVar(&keyFlags, "key", nil, "the ledger's public verifier key, or @FILE; repeat it for each key of a rotation")
	cmd.Flags().StringVar(&since, "since-checkpoint", "", "a checkpoint kept earlier (signed note file) the log must extend")
	cmd.Flags().BoolVar(&progress, "progress", false, "print progress on stderr (default: only on a terminal)")
	return cmd
}

// readKeyFlag reads --key: a verifier key or @FILE.
func readKeyFlag(v string) (string, error) {
	if f, ok := strings.CutPrefix(v, "@"); ok {
		b, err := readInput(f, integrity.MaxNoteBytes)
		if err != nil {
			return "", usagef("--key: %v", err)
		}
		v = string(b)
	}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "PRIVATE+KEY") {
		return "", usagef("--key: that is a private signing key; give the public verifier key (<name>+<hash>+<base64>)")
	}
	if _, err := note.NewVerifier(v); err != nil {
		return "", usagef("--key: not a verifier key (<name>+<hash>+<base64>)")
	}
	return v, nil
}

// parseKeys reads verifier keys, one a line.
func parseKeys(vkey string) (note.Verifiers, error) {
	return integrity.Verifiers(strings.Fields(vkey)...)
}

// verifierFor is the verifier of the events signed by the keys of vkey
// (and those their rotations name), trusting kept (a checkpoint kept by
// keptSource) and since (the auditor's). A non-nil anchor is the ledger's
// key history: the first signed event must be signed by a key it lists.
func verifierFor(vkey string, anchor *ledgerkey.History, kept []byte, keptSource integrity.Source, keptWhat string, since []byte) (*integrity.Verifier, error) {
	keys, err := parseKeys(vkey)
	if err != nil {
		return nil, err
	}
	sigs, err := newKeyChain(vkey)
	if err != nil {
		return nil, err
	}
	if anchor != nil {
		if err := sigs.c.Anchor(*anchor, strings.Fields(vkey)...); err != nil {
			return nil, err
		}
	}
	v := integrity.NewVerifier(integrity.Config{Keys: keys, Signatures: sigs})
	if kept != nil {
		if err := v.Trust(kept, keptSource); err != nil {
			return nil, fmt.Errorf("%s: %w", keptWhat, err)
		}
	}
	if since != nil {
		// The auditor's own file, not the ledger's history: a checkpoint
		// no given key signed (another ledger's, or a key not given) or
		// a damaged file says nothing about this ledger. Could not verify.
		if err := v.Trust(since, integrity.SourceAuditor); err != nil {
			return nil, &exitError{ExitError, sinceCheckpointError(err)}
		}
	}
	return v, nil
}

func verifyDataDir(ctx context.Context, env *Env, dir, vkey string, since []byte, p *progress) (verifyReport, error) {
	rep := verifyReport{Source: "data dir " + dir}
	if env.ReadDataDir == nil {
		return rep, errors.New("verify --data-dir is not available in this build")
	}
	// A first look for the files beside the data dir, then the records.
	var v *integrity.Verifier
	var batch [][]byte
	var first uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_ = v.AddBatch(first, batch)
		p.add(len(batch))
		batch = batch[:0]
		return nil
	}
	var setupErr error
	var kept []byte // the tree head kept beside the data dir
	var keptFile string
	var anchor *ledgerkey.History // the key history beside the key file
	info, err := env.ReadDataDir(ctx, dir, func(d DataDir) error {
		rep.LastSeq = d.LastSeq
		p.total = d.LastSeq
		given := vkey != ""
		if !given && d.KeyFile != "" {
			// Beside the data dir: a regular file of bounded size, as the
			// tree head (a pipe or a device there must not hang verify).
			b, err := integrity.ReadKeptFile(d.KeyFile, integrity.MaxNoteBytes)
			if err != nil {
				return err
			}
			k, err := integrity.VerifierKeyOf(string(b))
			if err != nil {
				return fmt.Errorf("%s: %w", d.KeyFile, err)
			}
			vkey = k
			// The key's name is the key file's: whoever wrote the file chose it.
			fmt.Fprintln(env.Stderr, "tokenledger: no --key: trusting the key beside the data dir,", inert(vkey, 512))
			if anchor, err = keyHistoryBeside(env, d.KeyFile, b); err != nil {
				return err
			}
		}
		if vkey == "" {
			return usagef("give --key: no key file beside the data dir")
		}
		if given && d.KeyFile != "" {
			// Keys given: the key file beside is the ledger's when its
			// key is one of them, and then so is the history it seals,
			// which the start applies (its pins above all: a retired
			// key, given too, cannot rewrite the records before its
			// rotation). Another key's file says nothing.
			var err error
			if anchor, err = keyHistoryOfGivenKey(env, d.KeyFile, vkey); err != nil {
				return err
			}
		}
		if d.KeptFile != "" {
			b, err := integrity.ReadKeptFile(d.KeptFile, integrity.MaxNoteBytes)
			if err != nil {
				return err
			}
			if len(b) > 0 { // an empty head (a power loss) is none, as for the ledger's start
				kept, keptFile = b, d.KeptFile
			}
		}
		v, setupErr = verifierFor(withHistoryKeys(vkey, anchor), anchor, kept, integrity.SourceKept, "the checkpoint kept beside the data dir", since)
		return setupErr
	}, func(seq uint64, data []byte) error {
		if v == nil {
			return errors.New("verifier not ready")
		}
		if len(batch) > 0 && seq != first+uint64(len(batch)) {
			_ = flush()
		}
		if len(batch) == 0 {
			first = seq
		}
		batch = append(batch, data)
		if len(batch) == 4096 {
			return flush()
		}
		return nil
	})
	var found *integrity.Finding
	if errors.As(err, &found) && v != nil {
		// What the reader saw and the records cannot show (a record
		// stored under another subject), after the records up to it:
		// what they show at or before it comes first.
		_ = flush()
		_ = v.Found(found)
		err = nil
	}
	if err != nil {
		return rep, err
	}
	_ = flush()
	r := withHead(v.Finish(info.LastSeq), v.Tree(), withHistoryKeys(vkey, anchor), kept, keptFile)
	rep = report(rep, r, vkey)
	if r.LatestInStream != nil {
		// The checkpoint to keep is the stream's newest, not the tree
		// head beside the data dir: the head also counts the checkpoint
		// event after it, which no checkpoint the ledger serves (nor its
		// bundles) reaches until more events come; kept, it would make a
		// later --since-checkpoint of the same idle ledger read as
		// tail-truncation.
		rep.Checkpoint = string(r.LatestInStream)
	}
	return rep, nil
}

func report(rep verifyReport, r integrity.Report, vkey string) verifyReport {
	rep.Records, rep.LastSeq = r.Records, max(rep.LastSeq, r.LastSeq)
	rep.Checkpoints, rep.Proven, rep.VerifierKey = r.Checkpoints, r.Proven, vkey
	rep.Root = fmt.Sprintf("%v", r.Root)
	rep.Checkpoint = string(r.Latest)
	rep.Intact = r.Finding == nil
	if f := r.Finding; f != nil {
		rep.Kind, rep.Seq, rep.Detail = string(f.Kind), f.Seq, f.Detail
	}
	return rep
}

// bundlePage is the most events verify --server asks for at a time.
const bundlePage = 20_000

func verifyServer(cmd *cobra.Command, env *Env, vkey string, since []byte, p *progress) (verifyReport, error) {
	cl, err := newClient(cmd, env)
	if err != nil {
		return verifyReport{}, err
	}
	rep := verifyReport{Source: "server " + cl.base.Host}
	ctx := cmd.Context()
	var cp struct {
		Size        int64  `json:"size"`
		Checkpoint  string `json:"checkpoint"`
		VerifierKey string `json:"verifierKey"`
	}
	if err := cl.getWaiting(ctx, checkpointPath(keptSize(since)), &cp); err != nil {
		return rep, err
	}
	if vkey == "" {
		vkey = cp.VerifierKey
		// Not parsed yet, and the server's to choose: inert.
		fmt.Fprintln(env.Stderr, "tokenledger: no --key: trusting the key the server names,", inert(withoutCredential(vkey, cl.token), 512))
	}
	since, beyond, err := sinceBeyondServed(ctx, cl, vkey, []byte(cp.Checkpoint), since)
	if err != nil {
		return rep, err
	}
	// The server's latest checkpoint is trusted like a kept one: the
	// records it serves must extend it.
	v, err := verifierFor(vkey, nil, []byte(cp.Checkpoint), integrity.SourceKept, "the server's latest checkpoint", since)
	if err != nil {
		return rep, err
	}
	keys, _ := parseKeys(vkey)
	p.total = uint64(cp.Size)
	for from := uint64(1); from <= uint64(cp.Size); from += bundlePage {
		to := min(from+bundlePage-1, uint64(cp.Size))
		var b integrity.Bundle
		if err := cl.getWaiting(ctx, fmt.Sprintf("/api/ledger/bundle?from_seq=%d&to_seq=%d", from, to), &b); err != nil {
			return rep, err
		}
		if _, _, err := integrity.OpenCheckpointNote([]byte(b.Checkpoint), keys); err != nil {
			// The server's checkpoint was signed by a given key a moment
			// ago (getWaiting may have waited out a restart since: one
			// that rotated the key, say). Its records are not judged by
			// this note, nor is tampering found by it: could not verify,
			// as for a server's checkpoint no given key signs.
			return rep, &exitError{ExitError, fmt.Errorf("the server's bundle of records %d to %d is under a checkpoint no given key signs, unlike the server's checkpoint read first (did the ledger restart with a rotated key meanwhile?): could not verify; run verify again, with every key of the ledger's chain: %w", from, to, err)}
		}
		if _, err := integrity.VerifyBundle(&b, keys, nil, nil); err != nil {
			var fnd *integrity.Finding
			if errors.As(err, &fnd) {
				rep.Kind, rep.Seq, rep.Detail, rep.VerifierKey = string(fnd.Kind), fnd.Seq, fnd.Detail, vkey
				return rep, nil
			}
			return rep, err
		}
		recs := make([][]byte, len(b.Events))
		for i, e := range b.Events {
			recs[i] = e.Data
		}
		if err := v.AddBatch(from, recs); err != nil {
			break
		}
		p.add(len(recs))
	}
	rep = report(rep, v.Finish(uint64(cp.Size)), vkey)
	if beyond != nil && rep.Intact {
		// Not tampering, not proven either: could not verify.
		return rep, &exitError{ExitError, fmt.Errorf("records 1 to %d are intact, but %w", rep.LastSeq, beyond)}
	}
	return rep, nil
}

// maxDetail bounds the detail verify prints of a finding.
const maxDetail = 2048

func printVerify(cmd *cobra.Command, rep verifyReport) error {
	w := cmd.OutOrStdout()
	// A finding's detail names what the records hold (an event's id, type
	// and aggregate): whoever wrote them chose those bytes. No control or
	// format character of theirs reaches the terminal (nor jq -r).
	rep.Detail = inert(rep.Detail, maxDetail)
	if jsonOut(cmd) {
		if err := printJSON(w, rep); err != nil {
			return err
		}
	} else if rep.Intact {
		fmt.Fprintf(w, "intact: %s: %d records (to sequence %d), %d signed checkpoints verified, proven up to %d\n",
			inert(rep.Source, 4096), rep.Records, rep.LastSeq, rep.Checkpoints, rep.Proven)
		if rep.Complete {
			fmt.Fprintln(w, "complete: the bundle holds every record its checkpoint signs")
		}
		if rep.Checkpoint != "" {
			fmt.Fprintf(w, "latest checkpoint (keep it for --since-checkpoint):\n%s", rep.Checkpoint)
		}
	} else {
		fmt.Fprintf(w, "TAMPERED: %s at sequence %d: %s\n", rep.Kind, rep.Seq, rep.Detail)
	}
	if !rep.Intact {
		return &exitError{ExitTampered, fmt.Errorf("%s at sequence %d", rep.Kind, rep.Seq)}
	}
	return nil
}

// progress prints a progress line on stderr: on a terminal, or when asked.
type progress struct {
	w     io.Writer
	on    bool
	total uint64
	n     uint64
	start time.Time
	last  time.Time
}

func newProgress(env *Env, force bool) *progress {
	on := force
	if f, ok := env.Stderr.(*os.File); ok && !on {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	now := time.Now()
	return &progress{w: env.Stderr, on: on, start: now, last: now}
}

func (p *progress) add(n int) {
	p.n += uint64(n)
	if !p.on || time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	p.print()
}

func (p *progress) print() {
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 1e-9)
	if p.total > 0 {
		fmt.Fprintf(p.w, "\rverified %d/%d records (%d%%), %.0f records/s", p.n, p.total, p.n*100/max(p.total, 1), rate)
	} else {
		fmt.Fprintf(p.w, "\rverified %d records, %.0f records/s", p.n, rate)
	}
}

func (p *progress) done() {
	if p.on && p.n > 0 {
		p.print()
		fmt.Fprintln(p.w)
	}
}

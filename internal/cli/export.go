package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newExport(env *Env) *cobra.Command {
	var out string
	var from, to, since uint64
	cmd := &cobra.Command{
		Use:   "export --bundle FILE [--from-seq N] [--to-seq M] [--since SIZE]",
		Short: "Write an auditor bundle: events of a range with inclusion proofs and the covering signed checkpoint",
		Long: `Export writes an auditor bundle (format tokenledger-bundle/1, JSON; see the README's
Auditor section): the events of sequences --from-seq to --to-seq (default: 1 to the latest
checkpoint's size) exactly as stored, each with its RFC 6962 inclusion proof, and the
signed checkpoint covering them. A range of more than 20000 events is written as several
bundle parts, one after another in the file, each later part with the consistency proof
from the first part's checkpoint: verify proves them together. --since SIZE adds the consistency
proof from the tree of SIZE records (the size of a checkpoint an auditor kept).
"tokenledger verify --bundle FILE --key PUBKEY" checks it on any machine. Needs an admin
(` + EnvToken + `). With --from-seq past the latest checkpoint (an incremental export on a
ledger that recorded nothing since) it writes nothing and exits 4 (nothing to export).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("give --bundle FILE (- for standard output)")
			}
			if to > 0 && max(from, 1) > to {
				return usagef("--from-seq %d is past --to-seq %d: give a range first to last", max(from, 1), to)
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			if out == "-" {
				_, err := exportParts(cmd.Context(), cl, from, to, since, cmd.OutOrStdout())
				return err
			}
			// Written beside the file, then renamed: a failed export
			// leaves no partial bundle under its name.
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			w := bufio.NewWriterSize(tmp, 1<<20)
			sum, err := exportParts(cmd.Context(), cl, from, to, since, w)
			if err == nil {
				err = w.Flush()
			}
			if err == nil {
				err = tmp.Chmod(0o644)
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: sequences %d to %d (%d events", out, sum.from, sum.to, sum.events)
			if sum.parts > 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), " in %d bundle parts of at most %d", sum.parts, bundlePage)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), ")")
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "bundle", "", "write the bundle to this file (- for standard output)")
	cmd.Flags().Uint64Var(&from, "from-seq", 0, "first sequence (default 1)")
	cmd.Flags().Uint64Var(&to, "to-seq", 0, "last sequence (default: the latest checkpoint's size)")
	cmd.Flags().Uint64Var(&since, "since", 0, "add a consistency proof from this tree size")
	return cmd
}

package cli

import (
	"bytes"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

func newExport(env *Env) *cobra.Command {
	var out string
	var from, to, since uint64
	cmd := &cobra.Command{
		Use:   "export --bundle FILE [--from-seq N] [--to-seq M] [--since SIZE]",
		Short: "Write an auditor bundle: events of a range with inclusion proofs and the covering signed checkpoint",
		Long: `Export writes an auditor bundle (format tokenledger-bundle/1, JSON; see the README's
Auditor section): the events of sequences --from-seq to --to-seq (default: 1 to the latest
checkpoint's size; at most 20000 a bundle) exactly as stored, each with its RFC 6962
inclusion proof, and the signed checkpoint covering them. --since SIZE adds the consistency
proof from the tree of SIZE records (the size of a checkpoint an auditor kept).
"tokenledger verify --bundle FILE --key PUBKEY" checks it on any machine. Needs an admin
(` + EnvToken + `).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("give --bundle FILE (- for standard output)")
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			q := url.Values{}
			if from > 0 {
				q.Set("from_seq", fmt.Sprint(from))
			}
			if to > 0 {
				q.Set("to_seq", fmt.Sprint(to))
			}
			if since > 0 {
				q.Set("since", fmt.Sprint(since))
			}
			var b integrity.Bundle
			if err := cl.do(cmd.Context(), "GET", "/api/ledger/bundle?"+q.Encode(), nil, &b); err != nil {
				return err
			}
			raw, err := integrity.MarshalBundle(&b)
			if err != nil {
				return err
			}
			if _, err := integrity.ReadBundle(bytes.NewReader(raw)); err != nil {
				return fmt.Errorf("the server's answer is not a bundle: %w", err)
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(raw)
				return err
			}
			if err := os.WriteFile(out, raw, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: sequences %d to %d (%d events)\n", out, b.FromSeq, b.ToSeq, len(b.Events))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "bundle", "", "write the bundle to this file (- for standard output)")
	cmd.Flags().Uint64Var(&from, "from-seq", 0, "first sequence (default 1)")
	cmd.Flags().Uint64Var(&to, "to-seq", 0, "last sequence (default: the latest checkpoint's size)")
	cmd.Flags().Uint64Var(&since, "since", 0, "add a consistency proof from this tree size")
	return cmd
}

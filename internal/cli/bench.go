package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBench(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure the standard workloads against a ledger it starts (or --server), each beside its floor",
		Long: `Run the standard workloads: creates at concurrency 1, 16 and 64, /edge/validate, a list of
every token, revoke-to-rejection, cold start and memory, each bounded in count and time and
interleaved with its floor (a bare net/http handler, a raw JetStream publish at
sync_interval: always, a bare process start). Without --server it starts "tokenledger serve"
on a temporary data dir and free loopback ports; with --server the admin token is read from
` + EnvToken + `. --sizes draws cost curves instead. "tokenledger bench -h" lists the flags.`,
		Example:            "  tokenledger bench --json bench.json\n  tokenledger bench --sizes 10000,100000 --svg docs/cost-curves.svg",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if env.Bench == nil {
				return errors.New("bench is not available in this build")
			}
			return env.Bench(cmd.Context(), args)
		},
	}
}

package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// EnvNATSPassword is the password of watch's --user (never a flag).
const EnvNATSPassword = "TOKENLEDGER_NATS_PASSWORD"

// watchRetry is the pause before watch reads the feed again after it was
// lost.
const watchRetry = 500 * time.Millisecond

func newWatch(env *Env) *cobra.Command {
	var natsURL, seed, creds, user, ca, since string
	var ledgerKeys []string
	var fromSeq uint64
	var all bool
	c := &cobra.Command{
		Use:   "watch",
		Short: "Print revocations and expiries as they happen (from the ledger's NATS token feed)",
		Long: `Print token revocations and expiries as the ledger records them, from now on (or from a
feed sequence, or since a time), until interrupted; and the deletions of projects, environments,
users and service accounts, which revoke the tokens acting for them at once. It follows the readers' token feed on the
ledger's NATS listener as a reader (--nats-readers of the server): an nkey seed file, a
credentials file, or --user with the password in ` + EnvNATSPassword + `.

Human lines show time, event, token id, reason and both sequences; --json prints one object a
line: {"feedSeq","ledgerSeq","subject","event"} with the event as the feed carries it. Resume
with --from-seq <last feedSeq + 1>.

Only events the ledger signed are shown (its key from --ledger-key, or announced by the feed
publisher's signed heartbeat); others are reported on stderr. A signed event that does not
follow the last one shown (events cut from the feed) stops watch with an error.`,
		Example: `  tokenledger watch --nkey-seed reader.seed
  tokenledger watch --nkey-seed reader.seed --since 2026-12-01T00:00:00Z --json
  tokenledger watch --nkey-seed reader.seed --from-seq 1 --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fromSeq > 0 && since != "" {
				return usagef("--from-seq and --since exclude each other")
			}
			var sinceT time.Time
			if since != "" {
				t, err := time.Parse(time.RFC3339Nano, since)
				if err != nil {
					return usagef("--since: %q is not an RFC 3339 time", since)
				}
				sinceT = t
			}
			conn := verifier.Connection{URL: natsURL, NkeySeedFile: seed, CredsFile: creds, User: user,
				Password: env.Getenv(EnvNATSPassword), Name: "tokenledger-watch"}
			if ca != "" {
				pem, err := os.ReadFile(ca)
				if err != nil {
					return usagef("--tls-ca: %v", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return usagef("--tls-ca: no certificate in %s", ca)
				}
				conn.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			nc, err := conn.Dial()
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx := cmd.Context()
			keys, err := newWatchKeys(ledgerKeys)
			if err != nil {
				return err
			}
			sub, err := nc.Subscribe(feed.HeartbeatSubject, keys.onHeartbeat)
			if err != nil {
				return fmt.Errorf("watch: subscribe %s: %w", feed.HeartbeatSubject, err)
			}
			defer func() { _ = sub.Unsubscribe() }()
			if err := keys.wait(ctx); err != nil {
				return fmt.Errorf("watch: %w", err)
			}
			from, err := startSequence(ctx, nc, fromSeq, sinceT)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tokenledger: watching token events from feed sequence %d\n", from)
			// Human lines go through terminal; --json lines as encoded.
			out := terminal(cmd)
			if jsonOut(cmd) {
				out = cmd.OutOrStdout()
			}
			w := watcher{out: out, json: jsonOut(cmd), all: all, keys: keys}
			return w.follow(ctx, nc, from, cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&natsURL, "nats-url", "nats://127.0.0.1:4222", "the ledger's NATS listener")
	f.StringVar(&seed, "nkey-seed", "", "file holding the reader's nkey seed")
	f.StringVar(&creds, "creds", "", "file holding the reader's user credentials (JWT and seed)")
	f.StringVar(&user, "user", "", "reader user name (password in "+EnvNATSPassword+")")
	f.StringVar(&ca, "tls-ca", "", "PEM file of the CA of the NATS server's certificate (turns TLS on)")
	f.Uint64Var(&fromSeq, "from-seq", 0, "start at this feed sequence (1: the whole history)")
	f.StringVar(&since, "since", "", "start at the first event recorded at or after this RFC 3339 time")
	f.BoolVar(&all, "all", false, "print every token event (created, scoped, expiry-changed too)")
	f.StringArrayVar(&ledgerKeys, "ledger-key", nil, "the ledger's verifier key, which signs the feed (repeatable; default: the key its heartbeat announces)")
	return c
}

// startSequence is the first feed sequence to print: fromSeq, the first
// event since sinceT, or (neither set) the next event to come.
func startSequence(ctx context.Context, nc *nats.Conn, fromSeq uint64, sinceT time.Time) (uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, feed.DefaultRequestWait)
	defer cancel()
	switch {
	case fromSeq > 0:
		return fromSeq, nil
	case !sinceT.IsZero():
		return feed.SequenceAt(rctx, nc, sinceT)
	}
	last, err := feed.LastSequence(rctx, nc)
	return last + 1, err
}

// watcher prints feed events.
type watcher struct {
	out  io.Writer
	json bool
	all  bool
	keys *watchKeys // nil: every event is shown
}

// follow prints from feed sequence from until ctx ends (then it returns
// nil); a lost feed is reported on stderr and read again.
func (w watcher) follow(ctx context.Context, nc *nats.Conn, from uint64, stderr io.Writer) error {
	next := from
	for {
		f := feed.Follower{Conn: nc, From: next}
		err := f.Run(ctx, func(ev feed.Event) error {
			next = ev.Sequence + 1
			if w.keys != nil {
				if err := w.keys.check(ev); errors.Is(err, errFeedLostEvents) {
					return printError{err}
				} else if err != nil {
					fmt.Fprintf(stderr, "tokenledger: watch: not shown: %v\n", err)
					return nil
				}
			}
			return w.print(ev)
		})
		if ctx.Err() != nil {
			return nil
		}
		var pe printError
		if errors.As(err, &pe) {
			return pe.err
		}
		fmt.Fprintf(stderr, "tokenledger: watch: %v (retrying)\n", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watchRetry):
		}
	}
}

// printError is a failure to write the output: watch stops.
type printError struct{ err error }

func (e printError) Error() string { return e.err.Error() }

func (w watcher) print(ev feed.Event) error {
	env, err := ev.Envelope()
	if err != nil {
		return nil // not a token event of the ledger's form: not shown
	}
	if !w.all && env.Type != events.TypeTokenRevoked && env.Type != events.TypeTokenExpired && !feed.IsDeletion(env.Type) {
		return nil
	}
	if w.json {
		b, err := json.Marshal(struct {
			FeedSeq   uint64          `json:"feedSeq"`
			LedgerSeq uint64          `json:"ledgerSeq"`
			Subject   string          `json:"subject"`
			Event     json.RawMessage `json:"event"`
		}{ev.Sequence, ev.LedgerSequence, ev.Subject, ev.Data})
		if err != nil {
			return printError{err}
		}
		if _, err := fmt.Fprintf(w.out, "%s\n", b); err != nil {
			return printError{err}
		}
		return nil
	}
	detail := ""
	p, _ := env.Payload()
	switch p := p.(type) {
	case events.TokenRevoked:
		detail = "reason=" + p.Reason
	case events.TokenExpired:
		detail = "expiresAt=" + p.ExpiresAt.UTC().Format(time.RFC3339)
	case events.TokenCreated:
		detail = fmt.Sprintf("type=%s environment=%s", p.TokenType, p.Environment)
	default:
		if feed.IsDeletion(env.Type) {
			detail = "revokes=" + revokes(env.Type)
		}
	}
	if _, err := fmt.Fprintf(w.out, "%s  %-20s  %s  %s  ledger-seq=%d feed-seq=%d\n", env.Time.UTC().Format(time.RFC3339),
		env.Type, env.AggregateID, detail, ev.LedgerSequence, ev.Sequence); err != nil {
		return printError{err}
	}
	return nil
}

// revokes says which tokens a deletion of type typ revokes at once (the
// ledger records their token.revoked or token.scoped after it).
func revokes(typ string) string {
	switch typ {
	case events.TypeProjectDeleted:
		return "tokens-of-only-this-project"
	case events.TypeEnvironmentDeleted:
		return "tokens-of-this-environment"
	}
	return "tokens-it-owns"
}

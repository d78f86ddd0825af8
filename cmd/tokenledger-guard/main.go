// Command tokenledger-guard puts tokenledger token verification in front
// of an HTTP service that has none: a reverse proxy that lets a request
// through only with a valid token, verified locally by an embedded
// projections/verifier that follows the ledger's token feed (a revoked
// token is refused within milliseconds; while the feed is lost longer than
// --max-staleness every request is refused with 503).
//
//	tokenledger-guard --nats-url nats://127.0.0.1:4222 --nkey-seed reader.seed \
//	    --listen 127.0.0.1:8081 --upstream http://127.0.0.1:8080
//
// The upstream receives the request without its Authorization header and
// with X-Tokenledger-Token-Id, -Type and -Environment set (every header the
// client sent in the X-Tokenledger- namespace is removed, and so is every
// header with an underscore in its name, which CGI, WSGI, Rack and PHP
// upstreams read as the header with hyphens). Without --upstream the guard answers every
// request itself with the token's id, type, environment and projects as
// JSON (to try it).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tokenledger/tokenledger/projections/verifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tokenledger-guard:", err)
		os.Exit(1)
	}
}

// run parses args and serves until ctx ends. When listening is set it
// receives the HTTP address once the guard serves.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, listening func(addr string)) error {
	fs := flag.NewFlagSet("tokenledger-guard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "the ledger's NATS listener")
	seed := fs.String("nkey-seed", "", "file holding the reader's nkey seed")
	creds := fs.String("creds", "", "file holding the reader's user credentials (JWT and seed), for an operator-run NATS")
	user := fs.String("user", "", "reader user name (its password in TOKENLEDGER_GUARD_PASSWORD)")
	ca := fs.String("tls-ca", "", "PEM file of the CA that signed the NATS server's certificate (turns TLS on)")
	listen := fs.String("listen", "127.0.0.1:8081", "HTTP address of the guard")
	upstream := fs.String("upstream", "", "URL of the protected service (empty: answer with the token's description)")
	stale := fs.Duration("max-staleness", verifier.DefaultMaxStaleness, "refuse every request once the token feed was lost this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	conn := verifier.Connection{URL: *natsURL, NkeySeedFile: *seed, CredsFile: *creds, User: *user,
		Password: getenv("TOKENLEDGER_GUARD_PASSWORD"), Name: "tokenledger-guard"}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("--tls-ca: no certificate in the file")
		}
		conn.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var next http.Handler = http.HandlerFunc(describe)
	if *upstream != "" {
		u, err := url.Parse(*upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--upstream: %q is not an http(s) URL", *upstream)
		}
		next = proxy(u)
	}
	v, err := verifier.Connect(conn, verifier.Config{MaxStaleness: *stale,
		OnRevoke: func(c verifier.Change) {
			if !c.Replayed {
				log.Info("token revoked", "token", c.Token.ID, "reason", c.Reason, "ledger_seq", c.LedgerSequence)
			}
		},
		OnError: func(err error) { log.Warn("token feed", "err", err) },
	})
	if err != nil {
		return err
	}
	defer v.Close()
	select {
	case <-v.Ready():
	case <-ctx.Done():
		return nil
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: v.Middleware(next), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	log.Info("tokenledger-guard serving", "http", ln.Addr().String(), "upstream", *upstream, "tokens", v.Stats().Tokens)
	if listening != nil {
		listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// Headers the guard sets for the upstream.
const (
	headerTokenID          = "X-Tokenledger-Token-Id"
	headerTokenType        = "X-Tokenledger-Token-Type"
	headerTokenEnvironment = "X-Tokenledger-Token-Environment"
)

// proxy forwards to u with the verified token's description instead of
// its secret.
func proxy(u *url.URL) http.Handler {
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.SetXForwarded()
		h := r.Out.Header
		h.Del("Authorization")
		dropSpoofable(h)
		if t, ok := verifier.TokenFrom(r.In.Context()); ok {
			h.Set(headerTokenID, t.ID)
			h.Set(headerTokenType, t.Type)
			h.Set(headerTokenEnvironment, t.Environment)
		}
	}}
}

// dropSpoofable removes the client's headers that an upstream could take
// for the guard's own: every name in the guard's X-Tokenledger- namespace
// (not only the ones it sets today), and every name with an underscore.
// CGI, WSGI, Rack, PHP (and nginx with underscores_in_headers) map "_"
// and "-" to the same variable, so X_Tokenledger_Token_Id or
// X_Forwarded_For would otherwise arrive as the guard's header; like
// nginx's and Apache's defaults, such names are not forwarded at all.
func dropSpoofable(h http.Header) {
	for name := range h {
		if strings.ContainsRune(name, '_') || strings.HasPrefix(strings.ToLower(name), "x-tokenledger-") {
			delete(h, name)
		}
	}
}

// describe answers with the verified token's description.
func describe(w http.ResponseWriter, r *http.Request) {
	t, _ := verifier.TokenFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": t.ID, "type": t.Type, "environment": t.Environment,
		"projects": t.Projects, "allProjects": t.AllProjects})
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// Config is everything "tokenledger serve" can be told.
type Config struct {
	Listen          string // HTTP address
	DataDir         string // embedded NATS data
	NATSListen      string // embedded NATS client address, "off" for none
	NATSURL         string // external NATS instead of the embedded server
	AuthProxyHeader string // trusted single-sign-on header, "" = off
	TrustedProxies  []netip.Prefix
	ExpiryEvery     time.Duration // expiry scheduler period
	Replicas        int           // stream replicas when creating it on a cluster
	// ReadWait bounds how long a request waits for the projections to reach
	// a sequence (its own write, or X-Ledger-Min-Sequence); default 5 s.
	ReadWait time.Duration
	// NoSync turns sync_interval: always off. Only for tests and
	// benchmarks: acknowledged events can be lost on a crash.
	NoSync bool
	// Getenv reads INIT_*_API_TOKENS.
	Getenv func(string) string
	// LogOutput receives the JSON logs (default stderr).
	LogOutput io.Writer
	// NATSReaders may connect to the embedded NATS listener and follow
	// the token feed (--nats-readers and --nats-readers-file).
	NATSReaders []jsstore.Reader
	// NATSLimits caps the embedded server (zero fields: jsstore defaults).
	NATSLimits NATSLimits

	// HTTP limits (0 turns each off; ParseConfig sets the defaults).
	// MaxConnections caps open HTTP connections; at the cap the longest-idle
	// one is closed to make room.
	MaxConnections int
	// UnauthRate/UnauthBurst: per-client-address token bucket of the token
	// oracles (/edge/validate misses, failed authentications).
	UnauthRate  float64
	UnauthBurst int
	// MutationRate/MutationBurst: per-principal token bucket of mutations.
	MutationRate  float64
	MutationBurst int
	// TrustedOrigins may send mutations from a browser besides the
	// server's own origin.
	TrustedOrigins []string
}

// NATSLimits are the embedded NATS server's resource caps.
type NATSLimits struct {
	MaxConnections, MaxReaderConnections, MaxReaderSubscriptions, MaxPayload int
	FeedMaxBytes                                                             int64
}

// ParseConfig reads flags, each with a TOKENLEDGER_* environment twin (the
// flag wins).
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("tokenledger serve", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv("TOKENLEDGER_" + name); v != "" {
			return v
		}
		return def
	}
	var c Config
	var proxies, expiry string
	var httpErr error
	envInt := func(name string, def int) int {
		v := getenv("TOKENLEDGER_" + name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			httpErr = fmt.Errorf("TOKENLEDGER_%s: %q is not a non-negative integer", name, v)
		}
		return n
	}
	envFloat := func(name string, def float64) float64 {
		v := getenv("TOKENLEDGER_" + name)
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			httpErr = fmt.Errorf("TOKENLEDGER_%s: %q is not a non-negative number", name, v)
		}
		return f
	}
	var origins string
	fs.IntVar(&c.MaxConnections, "max-connections", envInt("MAX_CONNECTIONS", 1024), "most open HTTP connections; at the cap the longest-idle one is closed; 0: no cap (TOKENLEDGER_MAX_CONNECTIONS)")
	fs.Float64Var(&c.UnauthRate, "unauth-rate", envFloat("UNAUTH_RATE", 5), "per client address: unknown tokens at /edge/validate and failed authentications per second before 429; 0: off (TOKENLEDGER_UNAUTH_RATE)")
	fs.IntVar(&c.UnauthBurst, "unauth-burst", envInt("UNAUTH_BURST", 50), "per client address: burst of --unauth-rate (TOKENLEDGER_UNAUTH_BURST)")
	fs.Float64Var(&c.MutationRate, "mutation-rate", envFloat("MUTATION_RATE", 2), "per principal: changes (POST, PUT, DELETE) per second before 429; 0: off (TOKENLEDGER_MUTATION_RATE)")
	fs.IntVar(&c.MutationBurst, "mutation-burst", envInt("MUTATION_BURST", 60), "per principal: burst of --mutation-rate (TOKENLEDGER_MUTATION_BURST)")
	fs.StringVar(&origins, "trusted-origins", env("TRUSTED_ORIGINS", ""), "comma-separated origins (https://host[:port]) whose browser pages may send changes besides the server's own (TOKENLEDGER_TRUSTED_ORIGINS)")
	fs.StringVar(&c.Listen, "listen", env("LISTEN", "127.0.0.1:4242"), "HTTP listen address (TOKENLEDGER_LISTEN)")
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", "./data"), "directory of the embedded NATS JetStream store (TOKENLEDGER_DATA_DIR)")
	fs.StringVar(&c.NATSListen, "nats-listen", env("NATS_LISTEN", "127.0.0.1:4222"), `client address of the embedded NATS server, "off" for none (TOKENLEDGER_NATS_LISTEN)`)
	fs.StringVar(&c.NATSURL, "nats-url", env("NATS_URL", ""), "use this NATS server or cluster (comma-separated URLs) instead of the embedded one (TOKENLEDGER_NATS_URL)")
	fs.StringVar(&c.AuthProxyHeader, "auth-proxy-header", env("AUTH_PROXY_HEADER", ""), "header naming the signed-in user, set by a trusted SSO proxy; off when empty (TOKENLEDGER_AUTH_PROXY_HEADER)")
	fs.StringVar(&proxies, "trusted-proxies", env("TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs the auth-proxy header is accepted from (TOKENLEDGER_TRUSTED_PROXIES)")
	fs.StringVar(&expiry, "expiry-interval", env("EXPIRY_INTERVAL", "1s"), "how often expired tokens are recorded as token.expired (TOKENLEDGER_EXPIRY_INTERVAL)")
	fs.IntVar(&c.Replicas, "replicas", 1, "replicas of the LEDGER stream when this process creates it (3 on a cluster)")
	var natsReaders, natsReadersFile string
	fs.StringVar(&natsReaders, "nats-readers", env("NATS_READERS", ""), "clients allowed to follow the token feed on the embedded NATS listener: comma- or space-separated nkey public user keys (U…) and name:bcrypt-hash users (\"htpasswd -nbB name password\" prints one; or a hash from \"nats server passwd\"); none: no client but the ledger can connect (TOKENLEDGER_NATS_READERS)")
	fs.StringVar(&natsReadersFile, "nats-readers-file", env("NATS_READERS_FILE", ""), "file with more readers, same syntax, one or more a line, # comments (TOKENLEDGER_NATS_READERS_FILE)")
	var natsEnvErr error // bad TOKENLEDGER_NATS_* numbers, returned after parsing
	natsInt := func(name, envName string, def int, usage string) *int {
		v := def
		fs.Func(name, fmt.Sprintf("%s (default %d; TOKENLEDGER_%s)", usage, def, envName), func(s string) error { return parsePositive(s, &v) })
		if e := getenv("TOKENLEDGER_" + envName); e != "" {
			if err := parsePositive(e, &v); err != nil {
				natsEnvErr = errors.Join(natsEnvErr, fmt.Errorf("TOKENLEDGER_%s: %w", envName, err))
			}
		}
		return &v
	}
	maxConns := natsInt("nats-max-connections", "NATS_MAX_CONNECTIONS", jsstore.DefaultMaxConnections, "most client connections the embedded NATS server accepts")
	maxReaderConns := natsInt("nats-max-reader-connections", "NATS_MAX_READER_CONNECTIONS", jsstore.DefaultMaxReaderConnections, "most connections of one NATS reader (each has an account of its own)")
	maxReaderSubs := natsInt("nats-max-reader-subscriptions", "NATS_MAX_READER_SUBSCRIPTIONS", jsstore.DefaultMaxReaderSubscriptions, "most subscriptions of one NATS reader connection")
	maxPayload := natsInt("nats-max-payload", "NATS_MAX_PAYLOAD", jsstore.DefaultMaxPayload, "largest message in bytes a NATS client may publish")
	feedGiB := natsInt("nats-feed-max-gib", "NATS_FEED_MAX_GIB", jsstore.DefaultFeedMaxBytes>>30, "disk in GiB the readers' token feed may use; the feed stops following the ledger when full")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if httpErr != nil {
		return Config{}, httpErr
	}
	if c.MaxConnections < 0 || c.UnauthBurst < 0 || c.MutationBurst < 0 || c.UnauthRate < 0 || c.MutationRate < 0 {
		return Config{}, fmt.Errorf("--max-connections, --unauth-rate, --unauth-burst, --mutation-rate and --mutation-burst must not be negative")
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil {
			return Config{}, fmt.Errorf("--trusted-origins: %w", err)
		}
		c.TrustedOrigins = append(c.TrustedOrigins, o)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	d, err := time.ParseDuration(expiry)
	if err != nil || d <= 0 {
		return Config{}, fmt.Errorf("--expiry-interval: %q is not a positive duration", expiry)
	}
	c.ExpiryEvery = d
	for _, p := range strings.Split(proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return Config{}, fmt.Errorf("--trusted-proxies: %q is not an address or CIDR", p)
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, pre)
	}
	if c.AuthProxyHeader != "" && len(c.TrustedProxies) == 0 {
		return Config{}, fmt.Errorf("--auth-proxy-header needs --trusted-proxies: the header is accepted only from known proxy addresses")
	}
	c.Getenv = getenv
	if natsEnvErr != nil {
		return Config{}, natsEnvErr
	}
	c.NATSLimits = NATSLimits{MaxConnections: *maxConns, MaxReaderConnections: *maxReaderConns,
		MaxReaderSubscriptions: *maxReaderSubs, MaxPayload: *maxPayload, FeedMaxBytes: int64(*feedGiB) << 30}
	if natsReadersFile != "" {
		b, err := os.ReadFile(natsReadersFile)
		if err != nil {
			return Config{}, fmt.Errorf("--nats-readers-file: %w", err)
		}
		natsReaders += "\n" + string(b)
	}
	readers, err := jsstore.ParseReaders(natsReaders)
	if err != nil {
		return Config{}, fmt.Errorf("--nats-readers: %w", err)
	}
	c.NATSReaders = readers
	return c, nil
}

func parsePositive(s string, v *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive whole number", s)
	}
	*v = n
	return nil
}

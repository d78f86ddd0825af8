package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
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
	return c, nil
}

package service

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	// NATSReplicas is the replica count of a stream this process creates
	// on --nats-url; 0 follows the cluster (its size, at most 3).
	NATSReplicas int
	// NATSSystemURL connects as a system-account user to read the
	// servers' sync setting at start-up ("": it cannot be proven, and the
	// start is refused unless AllowUnsafeDurability).
	NATSSystemURL string
	// AllowUnsafeDurability runs on a stream that could lose acknowledged
	// events (one replica on a cluster, servers not syncing every write),
	// with an ERROR line, instead of refusing to start.
	AllowUnsafeDurability bool
	// NATSPingInterval is how often the connection to --nats-url pings its
	// server; two unanswered pings mark it stale (a silent partition) and
	// it reconnects elsewhere. 0: DefaultNATSPingInterval.
	NATSPingInterval time.Duration
	// ReadWait bounds how long a request waits for the projections to reach
	// a sequence (its own write, or X-Ledger-Min-Sequence); default 5 s.
	ReadWait time.Duration
	// NoSync turns sync_interval: always off. Only for tests and
	// benchmarks: acknowledged events can be lost on a crash.
	NoSync bool
	// Getenv reads INIT_*_API_TOKENS.
	Getenv func(string) string
	// Now is the ledger's clock (commands, verification, expiry); nil is
	// the wall clock. Tests set it to move time without sleeping.
	Now func() time.Time
	// LogOutput receives the logs (default stderr).
	LogOutput io.Writer
	// LogLevel is the least severe level logged (default INFO).
	LogLevel slog.Level
	// LogFormat is "json" (the default, also for "") or "text".
	LogFormat string
	// ReplayProgressEvery is the interval between the start-up replay's
	// progress lines (default projections.DefaultProgressEvery).
	ReplayProgressEvery time.Duration
	// NATSReaders may connect to the embedded NATS listener and follow
	// the token feed (--nats-readers and --nats-readers-file).
	NATSReaders []jsstore.Reader
	// NATSLimits caps the embedded server (zero fields: jsstore defaults).
	NATSLimits NATSLimits
	// NATSMaxUnauthenticated caps the sockets the embedded NATS listener
	// holds before they sign in (0: jsstore.DefaultMaxUnauthenticated).
	NATSMaxUnauthenticated int

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

	// SigningKey is the file of the ledger's signing key (--signing-key);
	// "" is "<DataDir>.signing-key". Generated on first start.
	SigningKey string
	// RotateSigningKey makes this start append a key.rotated event signed
	// by the current key and replace the key file with a new key
	// (--rotate-signing-key, command line only).
	RotateSigningKey bool
	// AdoptKeyHistory makes this start begin the key history beside the
	// key file from the keys the stream's key.rotated events name, for a
	// ledger rotated (or signing after unsigned history) by a version
	// that kept no key history (--adopt-key-history, command line only).
	// Its value is the one the refused start names for the stream as it
	// was then: a flag left set adopts no other stream.
	AdoptKeyHistory string

	// Checkpoints (issue 13): a signed checkpoint of the Merkle tree is
	// appended every CheckpointEvery events or CheckpointInterval, when
	// there are new events, and on shutdown.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// TreeHead is the file of the signed tree head (--tree-head), written
	// after every applied event and checked at start; "" is
	// "<DataDir>.checkpoint" with the embedded server, none with NATSURL.
	TreeHead string
	// noTreeHead turns the signed tree head off (benchmarks compare).
	noTreeHead bool

	// Projection snapshots: written every SnapshotEvery events or
	// SnapshotInterval (when there are new events) and at shutdown to
	// SnapshotFile ("" is <DataDir>.snapshot with the embedded server,
	// none with an external one; SnapshotOff turns them off), and read at
	// start so that only the events after it are replayed.
	SnapshotFile     string
	SnapshotEvery    int
	SnapshotInterval time.Duration

	// MemoryLimit is the Go runtime's soft memory limit that Serve sets
	// (--memory-limit): bytes, MemoryLimitAuto (the default) or
	// MemoryLimitOff; see memlimit.go.
	MemoryLimit int64
}

// NATSLimits are the embedded NATS server's resource caps.
type NATSLimits struct {
	MaxConnections, MaxReaderConnections, MaxReaderSubscriptions, MaxPayload int
	FeedMaxBytes                                                             int64
}

// ParseConfig reads flags, each with a TOKENLEDGER_* environment twin (the
// flag wins). An error names what the user set: the flag, or the
// environment variable when the value came from there.
func ParseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("tokenledger serve", flag.ContinueOnError)
	c := Config{Listen: "127.0.0.1:4242", DataDir: "./data", NATSListen: "127.0.0.1:4222", ExpiryEvery: time.Second,
		Replicas: 1, MaxConnections: 1024, UnauthRate: 5, UnauthBurst: 50, MutationRate: 2, MutationBurst: 60,
		LogLevel: slog.LevelInfo, LogFormat: "json",
		CheckpointEvery: DefaultCheckpointEvery, CheckpointInterval: DefaultCheckpointInterval,
		NATSLimits: NATSLimits{MaxConnections: jsstore.DefaultMaxConnections, MaxReaderConnections: jsstore.DefaultMaxReaderConnections,
			MaxReaderSubscriptions: jsstore.DefaultMaxReaderSubscriptions, MaxPayload: jsstore.DefaultMaxPayload,
			FeedMaxBytes: jsstore.DefaultFeedMaxBytes}}
	var twins []twin // in definition order, so the first bad variable is reported first
	// def defines a flag whose value is checked by set (for the flag and
	// its environment twin alike); def is shown as the default.
	def := func(name, envName, defShown, usage string, set func(string) error) {
		if defShown != "" {
			usage += fmt.Sprintf(" (default %s; TOKENLEDGER_%s)", defShown, envName)
		} else {
			usage += fmt.Sprintf(" (TOKENLEDGER_%s)", envName)
		}
		fs.Func(name, usage, set)
		twins = append(twins, twin{flag: name, env: "TOKENLEDGER_" + envName})
	}
	str := func(dst *string) func(string) error {
		return func(v string) error { *dst = v; return nil }
	}
	def("listen", "LISTEN", c.Listen, "HTTP listen `address`", str(&c.Listen))
	def("data-dir", "DATA_DIR", c.DataDir, "`directory` of the embedded NATS JetStream store", str(&c.DataDir))
	def("nats-listen", "NATS_LISTEN", c.NATSListen, "client `address` of the embedded NATS server, \"off\" for none", str(&c.NATSListen))
	def("nats-url", "NATS_URL", "", "use this NATS server or cluster (comma-separated `URLs`) instead of the embedded one", str(&c.NATSURL))
	def("auth-proxy-header", "AUTH_PROXY_HEADER", "", "`header` naming the signed-in user, set by a trusted SSO proxy; off when empty", str(&c.AuthProxyHeader))
	def("trusted-proxies", "TRUSTED_PROXIES", "", "comma-separated `addresses` or CIDRs the auth-proxy header is accepted from",
		func(v string) error { p, err := parseProxies(v); c.TrustedProxies = p; return err })
	def("expiry-interval", "EXPIRY_INTERVAL", c.ExpiryEvery.String(), "how often (a `duration`) expired tokens are recorded as token.expired",
		func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not a positive duration (e.g. 1s, 500ms)", v)
			}
			c.ExpiryEvery = d
			return nil
		})
	def("replicas", "REPLICAS", strconv.Itoa(c.Replicas), "`replicas` of the LEDGER stream when this process creates it (deprecated: --nats-replicas)",
		func(v string) error { err := parsePositive(v, &c.Replicas); c.NATSReplicas = c.Replicas; return err })
	def("nats-replicas", "NATS_REPLICAS", "the cluster's size up to 3", "`replicas` of the LEDGER stream when this process creates it on --nats-url",
		func(v string) error { return parsePositive(v, &c.NATSReplicas) })
	def("nats-ping-interval", "NATS_PING_INTERVAL", DefaultNATSPingInterval.String(), "how often (a `duration`) the connection to --nats-url pings; two pings unanswered: a silent partition, reconnect",
		func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < minNATSPingInterval {
				return fmt.Errorf("%q is not a duration of at least %s (e.g. 10s)", v, minNATSPingInterval)
			}
			c.NATSPingInterval = d
			return nil
		})
	def("nats-system-url", "NATS_SYSTEM_URL", "", "`URLs` of a system-account user allowed $SYS.REQ.SERVER.PING.VARZ, to prove the servers sync every write (required with --nats-url unless --allow-unsafe-durability)",
		str(&c.NATSSystemURL))
	fs.BoolFunc("allow-unsafe-durability", "start even when acknowledged events could be lost (one replica on a cluster, servers not syncing every write); logs an ERROR (TOKENLEDGER_ALLOW_UNSAFE_DURABILITY=true)",
		func(v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.AllowUnsafeDurability = b
			return nil
		})
	twins = append(twins, twin{flag: "allow-unsafe-durability", env: "TOKENLEDGER_ALLOW_UNSAFE_DURABILITY"})
	def("log-level", "LOG_LEVEL", "info", "least severe log `level` written: debug, info, warn or error",
		func(v string) error { return parseLogLevel(v, &c.LogLevel) })
	def("log-format", "LOG_FORMAT", c.LogFormat, "log `format`: json (one object a line) or text (key=value)",
		func(v string) error {
			switch f := strings.ToLower(strings.TrimSpace(v)); f {
			case "json", "text":
				c.LogFormat = f
				return nil
			}
			return fmt.Errorf("%q is not a log format: json or text", v)
		})
	def("max-connections", "MAX_CONNECTIONS", strconv.Itoa(c.MaxConnections), "most open HTTP `connections`; at the cap the longest-idle one is closed; 0: no cap",
		func(v string) error { return parseNonNegative(v, &c.MaxConnections) })
	def("unauth-rate", "UNAUTH_RATE", "5", "per client address: unknown tokens at /edge/validate and failed authentications per second (a `rate`) before 429, and failed NATS sign-ins before -ERR; 0: off",
		func(v string) error { return parseRate(v, &c.UnauthRate) })
	def("unauth-burst", "UNAUTH_BURST", strconv.Itoa(c.UnauthBurst), "per client address: `burst` of --unauth-rate",
		func(v string) error { return parseNonNegative(v, &c.UnauthBurst) })
	def("mutation-rate", "MUTATION_RATE", "2", "per principal: changes (POST, PUT, DELETE) per second (a `rate`) before 429; 0: off",
		func(v string) error { return parseRate(v, &c.MutationRate) })
	def("mutation-burst", "MUTATION_BURST", strconv.Itoa(c.MutationBurst), "per principal: `burst` of --mutation-rate",
		func(v string) error { return parseNonNegative(v, &c.MutationBurst) })
	def("trusted-origins", "TRUSTED_ORIGINS", "", "comma-separated `origins` (https://host[:port]) whose browser pages may send changes besides the server's own",
		func(v string) error { o, err := parseOrigins(v); c.TrustedOrigins = o; return err })
	// Reader lists are checked after parsing: the flag package repeats a
	// bad value in its error, and a mistyped entry may be a password.
	var readers, readersFile string
	def("nats-readers", "NATS_READERS", "", "`readers` allowed to follow the token feed on the embedded NATS listener: comma- or space-separated nkey public user keys (U…) and name:bcrypt-hash users (\"htpasswd -nbB name password\" prints one; or a hash from \"nats server passwd\"); none: no client but the ledger can connect",
		str(&readers))
	def("nats-readers-file", "NATS_READERS_FILE", "", "`file` with more readers, same syntax, one or more a line, # comments",
		str(&readersFile))
	l := &c.NATSLimits
	def("nats-max-connections", "NATS_MAX_CONNECTIONS", strconv.Itoa(l.MaxConnections), "most signed-in client `connections` the embedded NATS listener holds",
		func(v string) error { return parsePositive(v, &l.MaxConnections) })
	def("nats-max-unauthenticated", "NATS_MAX_UNAUTHENTICATED", strconv.Itoa(jsstore.DefaultMaxUnauthenticated), "most `sockets` the embedded NATS listener holds before they sign in (one address at most half; when full, the longest-waiting of the address holding the most is closed)",
		func(v string) error { return parsePositive(v, &c.NATSMaxUnauthenticated) })
	def("nats-max-reader-connections", "NATS_MAX_READER_CONNECTIONS", strconv.Itoa(l.MaxReaderConnections), "most `connections` of one NATS reader (each has an account of its own)",
		func(v string) error { return parsePositive(v, &l.MaxReaderConnections) })
	def("nats-max-reader-subscriptions", "NATS_MAX_READER_SUBSCRIPTIONS", strconv.Itoa(l.MaxReaderSubscriptions), "most `subscriptions` of one NATS reader connection",
		func(v string) error { return parsePositive(v, &l.MaxReaderSubscriptions) })
	def("nats-max-payload", "NATS_MAX_PAYLOAD", strconv.Itoa(l.MaxPayload), "largest message in `bytes` a NATS client may publish",
		func(v string) error { return parsePositive(v, &l.MaxPayload) })
	def("nats-feed-max-gib", "NATS_FEED_MAX_GIB", strconv.FormatInt(l.FeedMaxBytes>>30, 10), "disk in `GiB` the readers' token feed may use; when it is full the feed lags (the ledger retries), the ledger is unaffected",
		func(v string) error {
			var gib int
			if err := parsePositive(v, &gib); err != nil {
				return err
			}
			l.FeedMaxBytes = int64(gib) << 30
			return nil
		})
	def("checkpoint-every", "CHECKPOINT_EVERY", strconv.Itoa(c.CheckpointEvery), "append a signed checkpoint of the Merkle tree after this many `events`",
		func(v string) error { return parsePositive(v, &c.CheckpointEvery) })
	def("checkpoint-interval", "CHECKPOINT_INTERVAL", c.CheckpointInterval.String(), "append a signed checkpoint at least this often (a `duration`) when there are new events",
		func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not a positive duration (e.g. 60s, 5m)", v)
			}
			c.CheckpointInterval = d
			return nil
		})

	def("snapshot-file", "SNAPSHOT_FILE", "<data-dir>.snapshot", "`file` of the projections' snapshot, read at start (then only later events are replayed) and written periodically and at shutdown; \"off\" for none (with an external NATS: none unless set)",
		str(&c.SnapshotFile))
	def("snapshot-every", "SNAPSHOT_EVERY", strconv.Itoa(DefaultSnapshotEvery), "write a projection snapshot after this many `events`",
		func(v string) error { return parsePositive(v, &c.SnapshotEvery) })
	def("snapshot-interval", "SNAPSHOT_INTERVAL", DefaultSnapshotInterval.String(), "write a projection snapshot at least this often (a `duration`) when there are new events",
		func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not a positive duration (e.g. 60s, 5m)", v)
			}
			c.SnapshotInterval = d
			return nil
		})
	def("tree-head", "TREE_HEAD", "<data-dir>.checkpoint", "`file` of the signed tree head, written after every event the ledger applies and checked at start (with --nats-url: none unless set)",
		str(&c.TreeHead))
	def("signing-key", "SIGNING_KEY", "<data-dir>.signing-key", "`file` of the ledger's Ed25519 signing key (a signed-note signer key, mode 0600), outside the data dir; generated on first start",
		str(&c.SigningKey))
	def("memory-limit", "MEMORY_LIMIT", "auto", "soft memory `limit` of the Go runtime (heap, stacks, runtime metadata) as GOMEMLIMIT writes it (512MiB, 2GiB), \"off\", or \"auto\": GOMEMLIMIT when set, else 90% of the container's (cgroup's) memory limit, else none",
		func(v string) error { n, err := parseMemoryLimit(v); c.MemoryLimit = n; return err })
	// Not an environment twin: left set, it would rotate at every start.
	fs.BoolVar(&c.RotateSigningKey, "rotate-signing-key", false, "append a key.rotated event signed by the current signing key and replace the key file with a new key, then serve (command line only)")
	fs.StringVar(&c.AdoptKeyHistory, "adopt-key-history", "", "begin the key history beside the key file from the keys the stream's key.rotated events name (a ledger rotated by a version before key histories; check that they are this ledger's keys first); the value is the one the refused start names for the stream as it is (command line only)")

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	// The environment fills what the command line did not set; its
	// errors name the variable, the one thing the user wrote.
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	source := map[string]string{} // flag → how the user set it
	for _, tw := range twins {
		source[tw.flag] = "--" + tw.flag
		if onCommandLine[tw.flag] {
			continue
		}
		v := getenv(tw.env)
		if v == "" {
			continue
		}
		source[tw.flag] = tw.env
		if err := fs.Set(tw.flag, v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", tw.env, err)
		}
	}
	if c.AuthProxyHeader != "" && len(c.TrustedProxies) == 0 {
		return Config{}, fmt.Errorf("%s needs --trusted-proxies (TOKENLEDGER_TRUSTED_PROXIES): the header is accepted only from known proxy addresses",
			source["auth-proxy-header"])
	}
	list, err := jsstore.ParseReaders(readers)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", source["nats-readers"], err)
	}
	if readersFile != "" {
		b, err := os.ReadFile(readersFile)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", source["nats-readers-file"], err)
		}
		if _, err := jsstore.ParseReaders(string(b)); err != nil {
			return Config{}, fmt.Errorf("%s: %s: %w", source["nats-readers-file"], readersFile, err)
		}
		if list, err = jsstore.ParseReaders(readers + "\n" + string(b)); err != nil {
			return Config{}, fmt.Errorf("%s and %s: %w", source["nats-readers"], source["nats-readers-file"], err)
		}
	}
	c.NATSReaders = list
	c.Getenv = getenv
	return c, nil
}

// twin is a flag and its environment variable.
type twin struct{ flag, env string }

func parseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", p)
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pre)
	}
	return out, nil
}

func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func parseLogLevel(v string, l *slog.Level) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "debug":
		*l = slog.LevelDebug
	case "info":
		*l = slog.LevelInfo
	case "warn", "warning":
		*l = slog.LevelWarn
	case "error":
		*l = slog.LevelError
	default:
		return fmt.Errorf("%q is not a log level: debug, info, warn or error", v)
	}
	return nil
}

func parseRate(s string, v *float64) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%q is not a non-negative number", s)
	}
	*v = f
	return nil
}

func parseNonNegative(s string, v *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a non-negative whole number", s)
	}
	*v = n
	return nil
}

func parsePositive(s string, v *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive whole number", s)
	}
	*v = n
	return nil
}

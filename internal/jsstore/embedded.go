package jsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/projections/feed"
)

// EmbeddedConfig configures an in-process nats-server with JetStream.
type EmbeddedConfig struct {
	// DataDir holds the JetStream file store (the server's StoreDir). It is
	// required: an empty dir would make JetStream fall back to a shared
	// temporary directory.
	DataDir string
	// Listen is the server's own client listener as host:port. Empty
	// means none: only in-process connections reach the server. The
	// ledger leaves it empty and serves clients through a [Front] (see
	// there why); a listener of the server's own is for tests and
	// benchmarks. Port 0 picks a free port (read it back with ClientURL).
	Listen string
	// SyncAlways makes the store fsync every write before it is
	// acknowledged (sync_interval: always). Production needs it: with the
	// default 2-minute interval an OS crash or power loss can lose
	// acknowledged events.
	SyncAlways bool
	// OwnerPassword, when set, turns on the account layout: the account
	// LedgerAccount holds the stream and only the user OwnerUser with this
	// password (the ledger's own connection); the account FeedAccount
	// holds FeedStream, the token events without principals' personal data
	// ([FeedPublisher]), and FeedUser; each
	// reader has an account of its own importing the feed's Direct Get and
	// wake-ups from FeedAccount. No client outside LedgerAccount can
	// publish anything into it. A listening server must have it.
	OwnerPassword string
	// FeedPassword is the password of FeedUser, the ledger's connection in
	// FeedAccount that creates FeedStream ([EnsureFeed]). Required with
	// OwnerPassword.
	FeedPassword string
	// Readers may connect and follow FeedStream (see [ParseReaders]).
	// Without readers no other client can connect at all.
	Readers []Reader
	// MaxConnections caps client connections to the server (default
	// DefaultMaxConnections; behind a [Front], give it
	// FrontConfig.ServerConnections); MaxReaderConnections caps those of each
	// reader (default DefaultMaxReaderConnections; its account's
	// max_connections); MaxReaderSubscriptions caps the
	// subscriptions of one reader connection (default
	// DefaultMaxReaderSubscriptions); MaxPayload caps one published
	// message (default DefaultMaxPayload, at least MaxMsgSize).
	MaxConnections         int
	MaxReaderConnections   int
	MaxReaderSubscriptions int
	MaxPayload             int
	// FeedMaxBytes caps the disk FeedAccount may use (default
	// DefaultFeedMaxBytes). When the feed reaches it, [FeedPublisher]
	// stops adding to it (and retries); the ledger itself is not affected.
	FeedMaxBytes int64
	// Log receives the server's own log (warnings, errors, notices as
	// Info); nil discards it.
	Log Logger
}

// Defaults of [EmbeddedConfig]'s limits.
const (
	DefaultMaxConnections         = 256
	DefaultMaxReaderConnections   = 64
	DefaultMaxReaderSubscriptions = 64
	DefaultMaxPayload             = 1 << 20
	DefaultFeedMaxBytes           = 8 << 30
)

// EmbeddedMaxPending is the most an embedded server buffers for one
// client connection before it closes it as a slow consumer (nats-server's
// default is 64 MiB): a reader that stops reading while it asks for Direct
// Get batches holds at most this much of the process's memory. The ledger's
// own reads ask for far less at a time (a pull request at most 2 MiB, a
// Direct Get batch at most 1 MiB).
const EmbeddedMaxPending = 8 << 20

// Accounts, users and subjects of an embedded server with authorization
// (see EmbeddedConfig.OwnerPassword).
const (
	LedgerAccount = "LEDGER"
	FeedAccount   = "FEED"
	OwnerUser     = "tokenledger"
	FeedUser      = "tokenledger-feed"
	// OwnerInboxPrefix is the reply-subject prefix of the owner's
	// connection (nats.CustomInboxPrefix).
	OwnerInboxPrefix = "_TOKENLEDGER_INBOX"
	// FeedInboxPrefix is the reply-subject prefix of FeedUser's
	// connection; readers may not subscribe to it.
	FeedInboxPrefix = "_TOKENLEDGER_FEED_INBOX"
	// FeedStream is the readers' stream: the ledger's token events
	// (stored on FeedSubjects) without the principals' personal data,
	// published by [FeedPublisher], with Direct Get, and every stored
	// event's headers republished on its own subject.
	FeedStream   = feed.Stream
	FeedSubjects = feed.Subjects
	// FeedPublishPrefix is the subject prefix FeedUser publishes feed
	// events under (FeedPublishPrefix.ledger.token.…); FeedStream stores
	// them without it. Only FeedUser may publish there, and it is
	// exported to no account.
	FeedPublishPrefix = "_TOKENLEDGER_FEED_PUBLISH"
)

// readerAccount is the account of the i-th reader (from 0).
func readerAccount(i int) string { return fmt.Sprintf("%s_READER_%d", FeedAccount, i+1) }

// accountsConf is the static part of the account layout (no secrets:
// users are added to the parsed options). LedgerAccount exports and
// imports nothing: no client of another account can read or write the
// ledger. Each reader has an account of its own, capped in connections
// and subscriptions, that imports from FeedAccount its JetStream API
// (readers' permissions leave Direct Get only) and the feed's wake-ups:
// one reader cannot take another's connections, and a reply a reader has
// the server send (a Direct Get answer on a subject of its choosing)
// reaches only its own account. Reader accounts have no JetStream of
// their own.
func accountsConf(readers, readerConns, readerSubs int, feedBytes int64) string {
	var names []string
	var readerAccounts strings.Builder
	for i := 0; i < readers; i++ {
		names = append(names, readerAccount(i))
		fmt.Fprintf(&readerAccounts, `  %s {
    limits { max_connections: %d, max_subscriptions: %d }
    imports [
      { service: { account: %s, subject: "$JS.API.>" } }
`, readerAccount(i), readerConns, readerSubs, FeedAccount)
		for _, subj := range readerStreams() {
			fmt.Fprintf(&readerAccounts, "      { stream: { account: %s, subject: %q } }\n", FeedAccount, subj)
		}
		readerAccounts.WriteString("    ]\n  }\n")
	}
	feedExports := ""
	if readers > 0 {
		list := strings.Join(names, ", ")
		var b strings.Builder
		fmt.Fprintf(&b, "    exports [\n      { service: \"$JS.API.>\", response_type: stream, accounts: [%s] }\n", list)
		for _, subj := range readerStreams() {
			fmt.Fprintf(&b, "      { stream: %q, accounts: [%s] }\n", subj, list)
		}
		b.WriteString("    ]\n")
		feedExports = b.String()
	}
	return fmt.Sprintf(`accounts {
  %[1]s {
    jetstream: enabled
  }
  %[2]s {
    jetstream { max_memory: 0, max_file: %[3]d, max_streams: 1, max_consumers: 1 }
    limits { max_connections: 4 }
%[4]s  }
%[5]s}
`, LedgerAccount, FeedAccount, feedBytes, feedExports, readerAccounts.String())
}

// readerStreams are the subjects the feed account sends readers: the
// feed's wake-ups and the publisher's heartbeat.
func readerStreams() []string { return append(feed.AllSubjects(), feed.HeartbeatSubject) }

// ReaderPermissions are a reader's rights in FeedAccount: Direct Get
// (single and batch) of FeedStream, and subscriptions to its _INBOX.>
// replies and to the republished stored events (feed.AllSubjects). No
// other JetStream API call: nats-server queues every account's API
// requests (STREAM.INFO, $JS.API.INFO, …) in one queue and drops it whole
// when it is full, the ledger's own requests included; Direct Get does
// not use that queue. No consumers, no streams, no imported API.
func ReaderPermissions() *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{
				api + "DIRECT.GET." + FeedStream,
				api + "DIRECT.GET." + FeedStream + ".>",
			},
			Deny: append([]string{FeedPublishPrefix + ".>", "$JS.FC.>", "$JS.API.CONSUMER.>", "$JS.API.STREAM.>", "$JS.API.INFO"},
				readerStreams()...),
		},
		Subscribe: &server.SubjectPermission{
			Allow: append([]string{"_INBOX.>"}, readerStreams()...),
			Deny:  []string{FeedPublishPrefix + ".>", FeedInboxPrefix + ".>", OwnerInboxPrefix + ".>"},
		},
	}
}

// feedUserPermissions let the ledger's feed connection create, check and
// (when its configuration is wrong) replace FeedStream, publish feed
// events and read the feed's last one ([FeedPublisher]), and nothing else.
func feedUserPermissions() *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: append([]string{
			api + "INFO",
			api + "STREAM.CREATE." + FeedStream,
			api + "STREAM.INFO." + FeedStream,
			api + "STREAM.DELETE." + FeedStream,
			api + "STREAM.MSG.GET." + FeedStream,
			api + "DIRECT.GET." + FeedStream,
			feed.HeartbeatSubject,
		}, feedIngest()...)},
		Subscribe: &server.SubjectPermission{Allow: []string{FeedInboxPrefix + ".>"}},
	}
}

// DefaultEmbedded is the production configuration: data under dataDir, no
// network listener, and SyncAlways on.
func DefaultEmbedded(dataDir string) EmbeddedConfig {
	return EmbeddedConfig{DataDir: dataDir, SyncAlways: true}
}

// embeddedReadyTimeout bounds how long StartEmbedded waits for the server.
// Recovering a large store after an unclean stop can take minutes; a
// failure (taken port, unusable data dir) is reported at once instead.
const embeddedReadyTimeout = 5 * time.Minute

// authTimeout is how long a client of the server's own listener may take
// to sign in.
const authTimeout = time.Second

// startStopWait bounds how long a cancelled start-up waits for the
// server's Start to return.
const startStopWait = 10 * time.Second

// StartEmbedded starts nats-server in this process with JetStream file
// storage under cfg.DataDir, server name "tokenledger" and no signal
// handlers, and waits until it accepts connections. It returns at once
// with the server's own reason when the server fails to start (a taken
// port, an unusable data dir) and when ctx ends. The caller owns the
// server: shut it down with Shutdown and WaitForShutdown (that also writes
// the store's index for a fast restart).
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*server.Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("jsstore: embedded server: DataDir is required")
	}
	opts := &server.Options{
		ServerName: "tokenledger",
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		MaxPending: EmbeddedMaxPending,
	}
	if cfg.OwnerPassword != "" {
		if err := authorize(opts, cfg); err != nil {
			return nil, err
		}
		if err := moveGlobalAccount(cfg); err != nil {
			return nil, err
		}
		if err := removeUnloadableConsumers(cfg); err != nil {
			return nil, err
		}
	} else if cfg.Listen != "" {
		return nil, errors.New("jsstore: embedded server: a listening server needs OwnerPassword, or any local process could append forged events")
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	}
	if cfg.Listen != "" {
		host, portStr, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("jsstore: embedded server: listen address %q: %w", cfg.Listen, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("jsstore: embedded server: listen address %q: bad port", cfg.Listen)
		}
		if port == 0 {
			port = server.RANDOM_PORT // nats-server reads 0 as "the default port 4222"
		}
		opts.Host, opts.Port = host, port
		// An unauthenticated socket holds a connection slot until then
		// (nats-server's default is 2 s); a reader signs in at once.
		opts.AuthTimeout = authTimeout.Seconds()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jsstore: embedded server start-up interrupted: %w", err)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("jsstore: embedded server: %w", err)
	}
	lg := newServerLogger(cfg.Log)
	s.SetLoggerV2(lg, false, false, false)
	started := make(chan struct{})
	// stop shuts the server down; it waits for an interrupted Start to
	// return (up to startStopWait: a store recovery does not check for
	// shutdown), so that nothing writes to the data dir afterwards.
	stop := func() {
		s.Shutdown()
		select {
		case <-started:
		case <-time.After(startStopWait):
		}
		s.WaitForShutdown()
	}
	go func() {
		defer close(started)
		s.Start()
	}()
	deadline := time.Now().Add(embeddedReadyTimeout)
	for !s.ReadyForConnections(50 * time.Millisecond) {
		select {
		case <-lg.fatal:
			stop()
			return nil, fmt.Errorf("jsstore: embedded server (data dir %s): %s", cfg.DataDir, lg.fatalMsg())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("jsstore: embedded server start-up interrupted: %w", ctx.Err())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("jsstore: embedded server not ready after %s (data dir %s)", embeddedReadyTimeout, cfg.DataDir)
		}
	}
	if err := ctx.Err(); err != nil { // cancelled while it became ready
		stop()
		return nil, fmt.Errorf("jsstore: embedded server start-up interrupted: %w", err)
	}
	if !s.JetStreamEnabled() {
		stop()
		if m := lg.fatalMsg(); m != "" {
			return nil, fmt.Errorf("jsstore: embedded server (data dir %s): %s", cfg.DataDir, m)
		}
		return nil, fmt.Errorf("jsstore: embedded server started without JetStream (data dir %s)", cfg.DataDir)
	}
	return s, nil
}

// authorize sets up the two accounts, their users and the limits.
func authorize(opts *server.Options, cfg EmbeddedConfig) error {
	if cfg.FeedPassword == "" {
		return errors.New("jsstore: embedded server: OwnerPassword needs FeedPassword")
	}
	def := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	feedBytes := cfg.FeedMaxBytes
	if feedBytes <= 0 {
		feedBytes = DefaultFeedMaxBytes
	}
	if err := opts.ProcessConfigString(accountsConf(len(cfg.Readers), def(cfg.MaxReaderConnections, DefaultMaxReaderConnections),
		def(cfg.MaxReaderSubscriptions, DefaultMaxReaderSubscriptions), feedBytes)); err != nil {
		return fmt.Errorf("jsstore: embedded server: accounts: %w", err)
	}
	// ProcessConfigString sets nothing else we rely on; restore ours.
	opts.MaxConn = def(cfg.MaxConnections, DefaultMaxConnections)
	opts.MaxPayload = int32(max(def(cfg.MaxPayload, DefaultMaxPayload), MaxMsgSize+4096))
	opts.NoAuthUser = ""
	accounts := map[string]*server.Account{}
	for _, a := range opts.Accounts {
		accounts[a.Name] = a
	}
	ledger, feed := accounts[LedgerAccount], accounts[FeedAccount]
	if ledger == nil || feed == nil {
		return errors.New("jsstore: embedded server: accounts missing after configuration")
	}
	// The server keeps only bcrypt hashes of the ledger's passwords (the
	// lowest cost will do: they are long and random, made per run).
	ownerHash, err := bcrypt.GenerateFromPassword([]byte(cfg.OwnerPassword), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("jsstore: embedded server: owner password: %w", err)
	}
	feedHash, err := bcrypt.GenerateFromPassword([]byte(cfg.FeedPassword), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("jsstore: embedded server: feed password: %w", err)
	}
	opts.Users = []*server.User{
		{Username: OwnerUser, Password: string(ownerHash), Account: ledger},
		{Username: FeedUser, Password: string(feedHash), Account: feed, Permissions: feedUserPermissions()},
	}
	for i, r := range cfg.Readers {
		acc := accounts[readerAccount(i)]
		if acc == nil {
			return fmt.Errorf("jsstore: embedded server: account of reader %d missing after configuration", i+1)
		}
		switch {
		case r.NKey != "":
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: r.NKey, Account: acc, Permissions: ReaderPermissions()})
		default:
			if r.Name == OwnerUser || r.Name == FeedUser {
				return fmt.Errorf("jsstore: embedded server: reader name %q is reserved", r.Name)
			}
			opts.Users = append(opts.Users, &server.User{Username: r.Name, Password: r.PasswordHash, Account: acc,
				Permissions: ReaderPermissions()})
		}
	}
	return nil
}

// Reader is a client allowed to follow FeedStream: either an nkey user
// (NKey, a public user key "U...") or a user Name with a bcrypt
// PasswordHash.
type Reader struct {
	Name         string
	PasswordHash string
	NKey         string
}

// ParseReaders reads a reader list: entries separated by commas,
// whitespace or new lines; "#" starts a comment up to the end of the line.
// An entry is an nkey public user key (56 characters starting with "U")
// or name:bcrypt-hash (the hash as made by "nats server passwd" or
// htpasswd -B, starting with "$2a$", "$2b$" or "$2y$"). Plain-text
// passwords are refused: the list sits in a file or environment.
func ParseReaders(spec string) ([]Reader, error) {
	var out []Reader
	seen := map[string]bool{}
	for _, line := range strings.Split(spec, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, e := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			var r Reader
			if name, hash, ok := strings.Cut(e, ":"); ok {
				if name == "" || strings.ContainsAny(name, ".*>") {
					return nil, fmt.Errorf("jsstore: reader %q: bad user name", name)
				}
				if !isBcrypt(hash) {
					return nil, fmt.Errorf("jsstore: reader %q: the password must be a bcrypt hash ($2a$/$2b$/$2y$…), never plain text", name)
				}
				r = Reader{Name: name, PasswordHash: hash}
			} else {
				if !nkeys.IsValidPublicUserKey(e) {
					return nil, fmt.Errorf("jsstore: reader entry %d: neither an nkey public user key (U…) nor name:bcrypt-hash", len(out)+1)
				}
				r = Reader{NKey: e}
			}
			key := r.Name + r.NKey
			if seen[key] {
				return nil, fmt.Errorf("jsstore: reader %s listed twice", key)
			}
			seen[key] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func isBcrypt(h string) bool {
	if len(h) != 60 {
		return false
	}
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}

// moveGlobalAccount moves the store of a data dir written before the
// two-account layout (the stream in the global account $G) to
// LedgerAccount, so that the ledger keeps its history. JetStream keeps an
// account's streams in StoreDir/jetstream/<account>; the move is a rename.
func moveGlobalAccount(cfg EmbeddedConfig) error {
	root := filepath.Join(cfg.DataDir, "jetstream")
	old, dst := filepath.Join(root, server.DEFAULT_GLOBAL_ACCOUNT), filepath.Join(root, LedgerAccount)
	if _, err := os.Stat(filepath.Join(old, "streams", DefaultStream)); err != nil {
		return nil // nothing to move
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("jsstore: embedded server: data dir %s has a ledger stream in both %s and %s; move one away", cfg.DataDir, old, dst)
	}
	if err := os.Rename(old, dst); err != nil {
		return fmt.Errorf("jsstore: embedded server: move the ledger's store to account %s: %w", LedgerAccount, err)
	}
	if cfg.Log != nil {
		cfg.Log.Log(context.Background(), slog.LevelWarn, "moved the ledger's store from the global account to account "+LedgerAccount+" (readers now use account "+FeedAccount+")",
			"from", old, "to", dst)
	}
	return nil
}

// removeUnloadableConsumers removes, before the server starts, each
// consumer directory under the ledger stream's obs/ whose metafile this
// nats-server cannot load: a field it does not know, or a required API
// level above its own. nats-server stops the whole stream at recovery
// when it meets one ("stopped - unsupported consumer"), and consumer
// metafiles carry no checked checksum, so anyone able to write to the
// stopped data dir could keep the ledger down. The ledger creates no
// durable consumer on its embedded server (Open removes any that loads);
// each removal is logged at ERROR with the directory. Encrypted metafiles
// (the embedded server does not encrypt) are left to the server.
func removeUnloadableConsumers(cfg EmbeddedConfig) error {
	obs := filepath.Join(cfg.DataDir, "jetstream", LedgerAccount, "streams", DefaultStream, "obs")
	dirs, err := os.ReadDir(obs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jsstore: embedded server: read consumers of %s: %w", DefaultStream, err)
	}
	for _, d := range dirs {
		dir := filepath.Join(obs, d.Name())
		reason := unloadableConsumer(dir)
		if reason == "" {
			continue
		}
		if cfg.Log != nil {
			cfg.Log.Log(context.Background(), slog.LevelError,
				"removing a consumer of the ledger stream that this nats-server cannot load (it would stop the stream); the ledger creates no such consumer",
				"dir", dir, "reason", reason)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("jsstore: embedded server: remove unloadable consumer %s (remove it by hand): %w", dir, err)
		}
	}
	return nil
}

// unloadableConsumer says why nats-server would refuse the consumer
// metafile in dir, or "" when it would load it (or cannot tell).
func unloadableConsumer(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, server.JetStreamMetaFileKey)); err == nil {
		return "" // encrypted
	}
	buf, err := os.ReadFile(filepath.Join(dir, server.JetStreamMetaFile))
	if err != nil {
		return "" // the server skips a consumer without a readable metafile
	}
	var fci server.FileConsumerInfo
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fci); err != nil {
		return "metafile does not decode: " + err.Error()
	}
	if l, ok := fci.Metadata[server.JSRequiredLevelMetadataKey]; ok {
		if n, err := strconv.Atoi(l); err != nil || n > server.JSApiLevel {
			return fmt.Sprintf("requires JetStream API level %q, the server has %d", l, server.JSApiLevel)
		}
	}
	return ""
}

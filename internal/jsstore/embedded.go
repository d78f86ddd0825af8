package jsstore

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures an in-process nats-server with JetStream.
type EmbeddedConfig struct {
	// DataDir holds the JetStream file store (the server's StoreDir). It is
	// required: an empty dir would make JetStream fall back to a shared
	// temporary directory.
	DataDir string
	// Listen is the client address as host:port. Empty means no listener:
	// only in-process connections (nats.InProcessServer) can reach the
	// server. Port 0 picks a free port (read it back with ClientURL).
	Listen string
	// SyncAlways makes the store fsync every write before it is
	// acknowledged (sync_interval: always). Production needs it: with the
	// default 2-minute interval an OS crash or power loss can lose
	// acknowledged events.
	SyncAlways bool
	// OwnerPassword, when set, turns on authorization: only the user
	// OwnerUser with this password may publish to ledger.> or manage
	// streams (the ledger's own connection); every client that connects
	// without credentials is the user ReaderUser, which may only read:
	// subscribe to ledger.> and follow the stream with its own consumers.
	// A listening server must have it, or any local process could append
	// forged events.
	OwnerPassword string
}

// Users of an embedded server with authorization (see
// EmbeddedConfig.OwnerPassword).
const (
	OwnerUser  = "tokenledger"
	ReaderUser = "reader"
	// OwnerInboxPrefix is the reply-subject prefix the owner's connection
	// should use (nats.CustomInboxPrefix): readers may subscribe to
	// _INBOX.> only, so they cannot listen to the ledger's replies.
	OwnerInboxPrefix = "_TOKENLEDGER_INBOX"
)

// readerPermissions let a service follow the ledger (plain subscriptions to
// ledger.>, or ordered JetStream consumers on the stream) and nothing else:
// no publishing to ledger.>, no stream or foreign-consumer management.
func readerPermissions(stream string) *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			api + "INFO",
			api + "STREAM.INFO." + stream,
			api + "CONSUMER.CREATE." + stream + ".>",
			api + "CONSUMER.INFO." + stream + ".>",
			api + "CONSUMER.DELETE." + stream + ".>",
			api + "CONSUMER.MSG.NEXT." + stream + ".>",
			api + "DIRECT.GET." + stream,
			api + "DIRECT.GET." + stream + ".>",
			"$JS.FC.>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{"ledger.>", "_INBOX.>"}},
	}
}

// DefaultEmbedded is the production configuration: data under dataDir, no
// network listener, and SyncAlways on.
func DefaultEmbedded(dataDir string) EmbeddedConfig {
	return EmbeddedConfig{DataDir: dataDir, SyncAlways: true}
}

// embeddedReadyTimeout bounds how long StartEmbedded waits for the server.
// Recovering a large store after an unclean stop can take seconds.
const embeddedReadyTimeout = 30 * time.Second

// StartEmbedded starts nats-server in this process with JetStream file
// storage under cfg.DataDir, server name "tokenledger", no signal handlers
// and no logging, and waits until it accepts connections. The caller owns
// the server: shut it down with Shutdown and WaitForShutdown (that also
// writes the store's index for a fast restart).
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("jsstore: embedded server: DataDir is required")
	}
	opts := &server.Options{
		ServerName: "tokenledger",
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		NoLog:      true,
	}
	if cfg.OwnerPassword != "" {
		opts.Users = []*server.User{
			{Username: OwnerUser, Password: cfg.OwnerPassword},
			{Username: ReaderUser, Password: cfg.OwnerPassword + "-reader-has-no-usable-password", Permissions: readerPermissions(DefaultStream)},
		}
		opts.NoAuthUser = ReaderUser
	} else if cfg.Listen != "" {
		return nil, errors.New("jsstore: embedded server: a listening server needs OwnerPassword, or any local process could append forged events")
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
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
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("jsstore: embedded server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(embeddedReadyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("jsstore: embedded server not ready after %s (data dir %s)", embeddedReadyTimeout, cfg.DataDir)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("jsstore: embedded server started without JetStream (data dir %s)", cfg.DataDir)
	}
	return s, nil
}

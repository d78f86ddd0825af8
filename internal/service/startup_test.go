package service_test

// Start-up says what is wrong, at once.

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// tryStart runs a service with cfg changed and returns Run's error (the
// service is closed either way).
func tryStart(t *testing.T, change func(*service.Config)) (logs string, err error) {
	t.Helper()
	buf := &servicetest.LogBuffer{}
	cfg := service.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NATSListen: "off", ExpiryEvery: time.Second, Replicas: 1,
		NoSync: true, Getenv: func(k string) string {
			if k == "INIT_ADMIN_API_TOKENS" {
				return servicetest.AdminSecret
			}
			return ""
		}, LogOutput: buf}
	change(&cfg)
	m := service.NewMain(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = m.Run(ctx)
	_ = m.Close()
	return buf.String(), err
}

// A second service on a data dir in use stops at once, naming the dir
// and the other process; the first keeps serving.
func TestSecondServiceOnTheSameDataDirIsRefused(t *testing.T) {
	first := servicetest.Start(t, "", nil)
	_, err := tryStart(t, func(c *service.Config) { c.DataDir = first.Config.DataDir })
	if err == nil || !strings.Contains(err.Error(), first.Config.DataDir) || !strings.Contains(err.Error(), "another tokenledger process") {
		t.Fatalf("second Run = %v, want a refusal naming %s and the other process", err, first.Config.DataDir)
	}
	healthy(first, t)
	// Once the first stops, the dir is free again.
	healthy(first.Restart(), t)
}

func TestStartUpReportsTheRealCause(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := filepath.Join(t.TempDir(), "data-is-a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*service.Config)
		want   string
	}{
		{"NATS port taken", func(c *service.Config) { c.NATSListen = taken.Addr().String() }, "listening on port"},
		{"data dir is a file", func(c *service.Config) { c.DataDir = file }, "not a directory"},
		{"data dir inside a file", func(c *service.Config) { c.DataDir = filepath.Join(file, "sub") }, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs, err := tryStart(t, tt.change)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want the cause %q\nlogs:\n%s", err, tt.want, logs)
			}
		})
	}
}

// A start-up cancelled (SIGTERM: main's context) stops before starting
// the embedded server, rather than starting it and failing later.
func TestCancelledStartUpStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := service.NewMain(service.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NATSListen: "off", ExpiryEvery: time.Second,
		Replicas: 1, NoSync: true, LogOutput: &servicetest.LogBuffer{}})
	err := m.Run(ctx)
	started := m.NATSServer() != nil
	_ = m.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v, want context.Canceled", err)
	}
	if started {
		t.Fatal("the embedded server was started although start-up was cancelled")
	}
}

// With --nats-url on a server where the ledger's user lacks a permission
// it needs, start-up refuses and names it.
func TestExternalNATSWithoutPermissionsIsRefused(t *testing.T) {
	srv := natstest.RunServerWith(t, t.TempDir(), func(o *server.Options) {
		o.Users = []*server.User{{Username: "ledger", Password: "pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}}}
	})
	url := strings.Replace(srv.ClientURL(), "nats://", "nats://ledger:pw@", 1)
	_, err := tryStart(t, func(c *service.Config) { c.NATSURL = url })
	if err == nil {
		t.Fatal("started without the permissions it needs")
	}
	for _, want := range []string{"publish ledger.>", "subscribe $JS.EVENT.ADVISORY.STREAM.UPDATED.LEDGER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v, want it to name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("error repeats the password: %v", err)
	}
}

// The NATS reader and limit flags, their environment twins, the readers
// file, and bad values.
func TestParseConfigNATSFlags(t *testing.T) {
	hash := "$2a$11$" + strings.Repeat("b", 53)
	file := filepath.Join(t.TempDir(), "readers")
	if err := os.WriteFile(file, []byte("# revocation feeds\nfeed-a:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantReaders int
		wantLimits  service.NATSLimits
		wantErr     string
	}{
		{"defaults", nil, nil, 0, service.NATSLimits{MaxConnections: 256, MaxReaderConnections: 64, MaxReaderSubscriptions: 64,
			MaxPayload: 1 << 20, FeedMaxBytes: 8 << 30}, ""},
		{"flags", []string{"--nats-readers", "svc:" + hash, "--nats-readers-file", file, "--nats-max-connections", "10",
			"--nats-max-reader-connections", "5", "--nats-max-reader-subscriptions", "7", "--nats-max-payload", "200000",
			"--nats-feed-max-gib", "2"}, nil, 2,
			service.NATSLimits{MaxConnections: 10, MaxReaderConnections: 5, MaxReaderSubscriptions: 7, MaxPayload: 200000, FeedMaxBytes: 2 << 30}, ""},
		{"environment", nil, map[string]string{"TOKENLEDGER_NATS_READERS": "svc:" + hash, "TOKENLEDGER_NATS_MAX_READER_CONNECTIONS": "3"}, 1,
			service.NATSLimits{MaxConnections: 256, MaxReaderConnections: 3, MaxReaderSubscriptions: 64, MaxPayload: 1 << 20, FeedMaxBytes: 8 << 30}, ""},
		{"flag wins over environment", []string{"--nats-max-reader-connections", "9"}, map[string]string{"TOKENLEDGER_NATS_MAX_READER_CONNECTIONS": "3"}, 0,
			service.NATSLimits{MaxConnections: 256, MaxReaderConnections: 9, MaxReaderSubscriptions: 64, MaxPayload: 1 << 20, FeedMaxBytes: 8 << 30}, ""},
		{"plain-text password", []string{"--nats-readers", "svc:hunter2"}, nil, 0, service.NATSLimits{}, "bcrypt"},
		{"zero connections", []string{"--nats-max-connections", "0"}, nil, 0, service.NATSLimits{}, "positive"},
		{"bad environment number", nil, map[string]string{"TOKENLEDGER_NATS_MAX_PAYLOAD": "lots"}, 0, service.NATSLimits{}, "TOKENLEDGER_NATS_MAX_PAYLOAD"},
		{"missing readers file", []string{"--nats-readers-file", file + ".missing"}, nil, 0, service.NATSLimits{}, "--nats-readers-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := service.ParseConfig(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig = %v, want an error naming %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.NATSReaders) != tt.wantReaders || c.NATSLimits != tt.wantLimits {
				t.Fatalf("readers %d, limits %+v; want %d, %+v", len(c.NATSReaders), c.NATSLimits, tt.wantReaders, tt.wantLimits)
			}
		})
	}
}

// cancelOnLine cancels a context when a log line contains a string.
type cancelOnLine struct {
	servicetest.LogBuffer
	line   string
	cancel context.CancelFunc
}

func (c *cancelOnLine) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.line) {
		c.cancel()
	}
	return c.LogBuffer.Write(p)
}

// SIGTERM (main's context ending) while the embedded server is starting
// stops the start-up: Run returns context.Canceled instead of serving.
func TestStartUpCancelledWhileTheServerStarts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &cancelOnLine{line: "Starting nats-server", cancel: cancel}
	m := service.NewMain(service.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", ExpiryEvery: time.Second,
		Replicas: 1, NoSync: true, LogOutput: logs})
	err := m.Run(ctx)
	started := m.NATSServer() != nil
	_ = m.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run cancelled during the server's start = %v, want context.Canceled\nlogs:\n%s", err, logs.String())
	}
	if started {
		t.Fatal("the embedded server's start-up ran to its end although cancelled")
	}
}

// --nats-url may carry credentials (nats://user:password@host); when the
// connection fails, Run's error (printed to stderr by main) names the URL
// without the password.
func TestSecurity_NATSURLPasswordNotInStartupError(t *testing.T) {
	const password = "s3cr3t-nats-password"
	m := service.NewMain(service.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NATSURL: "nats://ledger:" + password + "@127.0.0.1:1",
		ExpiryEvery: time.Second, Replicas: 1, NoSync: true, LogOutput: &servicetest.LogBuffer{}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Run(ctx)
	_ = m.Close()
	if err == nil {
		t.Fatal("Run connected to a closed port")
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("the startup error holds the NATS password: %v", err)
	}
}

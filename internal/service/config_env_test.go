package service_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
)

// A bad value names what the user set: the environment variable when it
// came from there (not the flag it stands for), the flag when it came from
// the command line. Every flag that checks its value is listed.
func TestConfigErrorsNameTheVariableOrTheFlagTheUserSet(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-readers-file")
	tests := []struct {
		flag, env, bad string
	}{
		{"expiry-interval", "TOKENLEDGER_EXPIRY_INTERVAL", "abc"},
		{"replicas", "TOKENLEDGER_REPLICAS", "0"},
		{"log-level", "TOKENLEDGER_LOG_LEVEL", "loud"},
		{"log-format", "TOKENLEDGER_LOG_FORMAT", "xml"},
		{"trusted-proxies", "TOKENLEDGER_TRUSTED_PROXIES", "not-an-address"},
		{"trusted-origins", "TOKENLEDGER_TRUSTED_ORIGINS", "https://a.example/path"},
		{"max-connections", "TOKENLEDGER_MAX_CONNECTIONS", "-1"},
		{"unauth-rate", "TOKENLEDGER_UNAUTH_RATE", "NaN"},
		{"unauth-burst", "TOKENLEDGER_UNAUTH_BURST", "many"},
		{"mutation-rate", "TOKENLEDGER_MUTATION_RATE", "-2"},
		{"mutation-burst", "TOKENLEDGER_MUTATION_BURST", "1.5"},
		{"nats-readers", "TOKENLEDGER_NATS_READERS", "svc:hunter2"},
		{"nats-readers-file", "TOKENLEDGER_NATS_READERS_FILE", missing},
		{"nats-max-connections", "TOKENLEDGER_NATS_MAX_CONNECTIONS", "0"},
		{"nats-max-reader-connections", "TOKENLEDGER_NATS_MAX_READER_CONNECTIONS", "x"},
		{"nats-max-reader-subscriptions", "TOKENLEDGER_NATS_MAX_READER_SUBSCRIPTIONS", "-3"},
		{"nats-max-payload", "TOKENLEDGER_NATS_MAX_PAYLOAD", "lots"},
		{"nats-feed-max-gib", "TOKENLEDGER_NATS_FEED_MAX_GIB", "0"},
		{"nats-ping-interval", "TOKENLEDGER_NATS_PING_INTERVAL", "0s"},
		{"memory-limit", "TOKENLEDGER_MEMORY_LIMIT", "lots"},
		{"auth-proxy-header", "TOKENLEDGER_AUTH_PROXY_HEADER", "X-User"}, // without trusted proxies
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			_, err := service.ParseConfig(nil, func(k string) string {
				if k == tt.env {
					return tt.bad
				}
				return ""
			})
			if err == nil {
				t.Fatalf("%s=%s accepted", tt.env, tt.bad)
			}
			if !strings.Contains(err.Error(), tt.env) || strings.Contains(err.Error(), "--"+tt.flag) {
				t.Errorf("%s=%s: error %q, want it to name %s and not --%s", tt.env, tt.bad, err, tt.env, tt.flag)
			}
			_, err = service.ParseConfig([]string{"--" + tt.flag, tt.bad}, func(string) string { return "" })
			if err == nil {
				t.Fatalf("--%s %s accepted", tt.flag, tt.bad)
			}
			if !strings.Contains(err.Error(), tt.flag) || strings.Contains(err.Error(), tt.env) {
				t.Errorf("--%s %s: error %q, want it to name the flag and not %s", tt.flag, tt.bad, err, tt.env)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats a password: %v", err)
			}
		})
	}
}

// The flags added for operators, their environment twins, and the flag
// winning over its twin.
func TestConfigLogAndReplicaFlags(t *testing.T) {
	d, err := service.ParseConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if d.LogLevel != slog.LevelInfo || d.LogFormat != "json" || d.Replicas != 1 {
		t.Fatalf("defaults: level %v, format %q, replicas %d", d.LogLevel, d.LogFormat, d.Replicas)
	}
	env := map[string]string{"TOKENLEDGER_LOG_LEVEL": "debug", "TOKENLEDGER_LOG_FORMAT": "text", "TOKENLEDGER_REPLICAS": "3"}
	c, err := service.ParseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != slog.LevelDebug || c.LogFormat != "text" || c.Replicas != 3 {
		t.Fatalf("from the environment: level %v, format %q, replicas %d", c.LogLevel, c.LogFormat, c.Replicas)
	}
	c, err = service.ParseConfig([]string{"--log-level", "WARN", "--log-format", "json", "--replicas", "5"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != slog.LevelWarn || c.LogFormat != "json" || c.Replicas != 5 {
		t.Fatalf("flags over the environment: level %v, format %q, replicas %d", c.LogLevel, c.LogFormat, c.Replicas)
	}
}

func TestParseConfig_FlagsAndEnvironmentTwins(t *testing.T) {
	env := map[string]string{"TOKENLEDGER_LISTEN": "127.0.0.1:9999", "TOKENLEDGER_DATA_DIR": "/env/dir", "TOKENLEDGER_NATS_LISTEN": "off"}
	getenv := func(k string) string { return env[k] }
	c, err := service.ParseConfig([]string{"--data-dir", "/flag/dir"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.DataDir != "/flag/dir" || c.NATSListen != "off" {
		t.Fatalf("config = %+v", c)
	}
	d, err := service.ParseConfig(nil, func(string) string { return "" })
	if err != nil || d.Listen != "127.0.0.1:4242" || d.DataDir != "./data" || d.NATSListen != "127.0.0.1:4222" || d.NATSURL != "" {
		t.Fatalf("defaults = %+v, %v", d, err)
	}
	for _, bad := range [][]string{
		{"--auth-proxy-header", "X-User"}, // without trusted proxies
		{"--trusted-proxies", "not-an-address"},
		{"--expiry-interval", "-1s"},
		{"extra-arg"},
	} {
		if _, err := service.ParseConfig(bad, func(string) string { return "" }); err == nil {
			t.Errorf("service.ParseConfig(%v) accepted bad input", bad)
		}
	}
}

func TestParseConfig_HTTPLimitFlagsAndEnvironmentTwins(t *testing.T) {
	d, err := service.ParseConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if d.MaxConnections != 1024 || d.UnauthRate != 5 || d.UnauthBurst != 50 || d.MutationRate != 2 || d.MutationBurst != 60 || len(d.TrustedOrigins) != 0 {
		t.Fatalf("defaults = %+v", d)
	}
	env := map[string]string{"TOKENLEDGER_MAX_CONNECTIONS": "10", "TOKENLEDGER_UNAUTH_RATE": "0.5",
		"TOKENLEDGER_MUTATION_BURST": "7", "TOKENLEDGER_TRUSTED_ORIGINS": "https://a.example, https://b.example:8443"}
	c, err := service.ParseConfig([]string{"--max-connections", "20", "--mutation-rate", "0"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 20 || c.UnauthRate != 0.5 || c.MutationBurst != 7 || c.MutationRate != 0 || len(c.TrustedOrigins) != 2 {
		t.Fatalf("config = %+v", c)
	}
	for _, bad := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--max-connections", "-1"}, nil},
		{[]string{"--unauth-rate", "-2"}, nil},
		{nil, map[string]string{"TOKENLEDGER_UNAUTH_BURST": "many"}},
		{nil, map[string]string{"TOKENLEDGER_MUTATION_RATE": "NaN"}},
		{[]string{"--trusted-origins", "not a url"}, nil},
		{[]string{"--trusted-origins", "https://a.example/path"}, nil},
	} {
		if _, err := service.ParseConfig(bad.args, func(k string) string { return bad.env[k] }); err == nil {
			t.Errorf("service.ParseConfig(%v, %v) accepted bad input", bad.args, bad.env)
		}
	}
}

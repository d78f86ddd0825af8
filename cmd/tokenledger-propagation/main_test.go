package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// startLedger runs the real service with a NATS listener and one nkey
// reader, and returns it with the reader's seed file.
func startLedger(t *testing.T) (*servicetest.Service, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "reader.seed")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSListen = "127.0.0.1:0"
		c.NATSReaders = []jsstore.Reader{{NKey: pub}}
	})
	return s, seedFile
}

// runCommand runs the command as the command line does, as an admin of
// the ledger at httpURL and natsURL.
func runCommand(t *testing.T, httpURL, natsURL string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "TOKENLEDGER_TOKEN" {
			return servicetest.AdminSecret
		}
		return ""
	}
	err := run(ctx, append([]string{"--server", httpURL, "--nats-url", natsURL}, args...), getenv, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), err
}

// The command measures, against a real ledger, one row per listener count
// and kind, each with the number of revocations asked for, its
// percentiles and, beside them, the floor measured in the same run (a raw
// fsynced publish reaching as many plain subscribers). The figures
// themselves are not checked: timings are for the README's runs, not for
// tests.
func TestPropagationReportsEachRowBesideItsFloor(t *testing.T) {
	s, seed := startLedger(t)
	out, err := runCommand(t, s.URL(), s.NATSURL(), "--nkey-seed", seed, "--listeners", "1,3", "--kinds", "subscribers,verifiers",
		"--revocations", "4", "--timeout", "20s", "--max-duration", "90s")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	table, notes, _ := strings.Cut(out, "\n\n")
	if !strings.Contains(notes, "load average") {
		t.Errorf("no load average after the table: %q", notes)
	}
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	header := strings.Fields(lines[0])
	if strings.Join(header, " ") != "listeners kind revocations p50 p99 max DELETE answer p50 DELETE answer p99 floor p50 floor p99" {
		t.Fatalf("header %q", lines[0])
	}
	ms := `(\d+\.\d\d ms)`
	row := regexp.MustCompile(`^\s*(\d+)\s+(subscribers|verifiers)\s+(\d+)\s+` + ms + `\s+` + ms + `\s+` + ms + `\s+` + ms + `\s+` + ms + `\s+` + ms + `\s+` + ms + `$`)
	var got []string
	for _, l := range lines[1:] {
		m := row.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("row %q does not have the report's shape", l)
		}
		got = append(got, m[1]+" "+m[2]+" "+m[3])
	}
	want := []string{"1 subscribers 4", "3 subscribers 4", "1 verifiers 4", "3 verifiers 4"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows (listeners kind revocations)\n%s\nwant\n%s\nreport:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
}

// Bad arguments are refused before anything is measured or connected.
func TestPropagationRefusesBadArguments(t *testing.T) {
	const seed = "reader.seed" // never read: the arguments are refused first
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no seed", nil, "--nkey-seed"},
		{"listener count zero", []string{"--nkey-seed", seed, "--listeners", "0"}, "--listeners"},
		{"listener count over a reader's connections", []string{"--nkey-seed", seed, "--listeners", "61"}, "--listeners"},
		{"unknown kind", []string{"--nkey-seed", seed, "--kinds", "pollers"}, "--kinds"},
		{"no revocations", []string{"--nkey-seed", seed, "--revocations", "0"}, "--revocations"},
		{"a profile of a ledger not spawned", []string{"--nkey-seed", seed, "--ledger-cpu-profile", "cpu.pprof"}, "--ledger-cpu-profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCommand(t, "http://127.0.0.1:1", "nats://127.0.0.1:1", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error naming %s", err, tt.want)
			}
			if out != "" {
				t.Fatalf("printed %q before refusing", out)
			}
		})
	}
}

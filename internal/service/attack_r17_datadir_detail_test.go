package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// verifyDataDirText runs "tokenledger verify --data-dir dir" (args added)
// and returns its exit code and what it printed.
func verifyDataDirText(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
		ReadDataDir: func(ctx context.Context, dir string, setup func(cli.DataDir) error, fn func(uint64, []byte) error) (cli.DataDir, error) {
			conv := func(r service.StoredRecords) cli.DataDir {
				return cli.DataDir{LastSeq: r.LastSeq, KeyFile: r.KeyFile, KeptFile: r.KeptFile}
			}
			r, err := service.ReadDataDir(ctx, dir, func(r service.StoredRecords) error { return setup(conv(r)) }, fn)
			return conv(r), err
		}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, append([]string{"verify", "--data-dir", dir}, args...), env)
	return code, stdout.String(), stderr.String()
}

// An attacker with write access to the stopped ledger's data dir plants
// a record whose event id (or type, or aggregate) holds terminal control
// sequences: they cannot make verify pass, but verify names the planted
// event in its TAMPERED line, and printed raw, the id moves the cursor up,
// erases the line and writes "intact: …" in its place: the auditor at the
// terminal reads a verdict verify never gave. The line, and --json's
// detail (which escapes C0 controls, not C1 ones, DEL or bidi overrides,
// so `jq -r .detail` prints them raw), must carry none of them.
func TestVerifyDataDirPrintsNoControlCharactersOfAPlantedEvent(t *testing.T) {
	const fake = "\x1b[1A\x1b[2K\rintact: data dir: 42 records\u009b1A\u202e\x7f"
	for _, tc := range []struct {
		name      string
		event     func() events.Envelope
		breakHash bool
	}{
		{"in the event id", func() events.Envelope {
			e, err := events.New(fake, "p-planted", events.ProjectCreated{Name: "planted"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return e
		}, false},
		{"in the id of an event whose hash fails", func() events.Envelope {
			e, err := events.New(fake, "p-planted", events.ProjectCreated{Name: "planted"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return e
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			s.CreateToken("backend", "development")
			if err := s.Close(); err != nil { // appends the shutdown checkpoint
				t.Fatal(err)
			}
			dir := s.Config.DataDir
			e := tc.event()
			e.Actor = events.System
			if err := e.Seal(); err != nil {
				t.Fatal(err)
			}
			data, err := events.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			if tc.breakHash {
				data = bytes.Replace(data, []byte(`"planted"`), []byte(`"plantex"`), 1)
			}
			seq := publishOfflineMsg(t, dir, &nats.Msg{Subject: e.Subject(), Data: data})

			code, out, errOut := verifyDataDirText(t, dir)
			if code != cli.ExitTampered || !strings.HasPrefix(out, "TAMPERED: ") {
				t.Fatalf("verify: exit %d %q %q, want the planted event at %d named", code, out, errOut, seq)
			}
			if r := controlRune(out + errOut); r >= 0 {
				t.Errorf("verify prints the attacker's %U to the terminal:\n%q", r, out)
			}
			code, out, _ = verifyDataDirText(t, dir, "--json")
			var rep struct {
				Detail string `json:"detail"`
				Seq    uint64 `json:"seq"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != cli.ExitTampered || rep.Seq != seq {
				t.Fatalf("verify --json: exit %d %q, want seq %d", code, out, seq)
			}
			if r := controlRune(rep.Detail); r >= 0 {
				t.Errorf("--json's detail holds the attacker's %U: %q", r, rep.Detail)
			}
		})
	}
}

// controlRune returns the first rune of s a terminal would act on or that
// reorders what it shows (a C0 or C1 control other than newline and tab,
// DEL, a format character such as a bidi override), or -1.
func controlRune(s string) rune {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return r
		}
	}
	return -1
}

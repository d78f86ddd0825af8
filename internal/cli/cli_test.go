package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// cliRun runs the tokenledger command line in-process against svc with
// the given credential, and returns its exit code, stdout and stderr.
func cliRun(t *testing.T, svc *servicetest.Service, token, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{cli.EnvToken: token}
	if svc != nil {
		env[cli.EnvAddr] = svc.URL()
	}
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		Serve:  func(ctx context.Context, args []string) error { return service.Serve(ctx, args, os.Getenv) },
	})
	return code, out.String(), errb.String()
}

func TestCLI_TokenLifecycleFromATerminal(t *testing.T) {
	svc := servicetest.Start(t, "", nil)

	code, out, errOut := cliRun(t, svc, servicetest.AdminSecret, "", "token", "create", "--name", "checkout",
		"--type", "backend", "--environment", "production", "--project", "default", "--expires", "30d", "--json")
	if code != cli.ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	var created struct {
		Secret string `json:"secret"`
		Token  struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(created.Secret, "default:production.") || created.Token.ID == "" || created.Token.Status != "valid" {
		t.Fatalf("create answered %+v", created)
	}

	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, created.Secret+"\n", "token", "lookup")
	if code != cli.ExitOK || !strings.Contains(out, "status: valid") || !strings.Contains(out, created.Token.ID) {
		t.Fatalf("lookup: exit %d\n%s", code, out)
	}
	if strings.Contains(out, created.Secret) {
		t.Fatal("lookup printed the secret back")
	}

	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "token", "list", "--status", "valid", "--type", "backend")
	if code != cli.ExitOK || !strings.Contains(out, created.Token.ID) || !strings.HasPrefix(out, "ID") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}

	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "token", "expiry", created.Token.ID, "2031-01-02T03:04:05Z")
	if code != cli.ExitOK {
		t.Fatalf("expiry: exit %d\n%s", code, out)
	}
	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "token", "get", created.Token.ID)
	if code != cli.ExitOK || !strings.Contains(out, "2031-01-02T03:04:05Z") {
		t.Fatalf("get after expiry change: exit %d\n%s", code, out)
	}

	code, _, errOut = cliRun(t, svc, servicetest.AdminSecret, "", "token", "revoke", created.Token.ID)
	if code != cli.ExitOK {
		t.Fatalf("revoke: exit %d: %s", code, errOut)
	}
	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, created.Secret, "token", "lookup", "--json")
	if code != cli.ExitBadSecret || !strings.Contains(out, `"status": "revoked"`) {
		t.Fatalf("lookup of a revoked secret: exit %d\n%s", code, out)
	}
}

func TestCLI_ExitCodesSayWhatWentWrong(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	tests := []struct {
		name     string
		token    string
		stdin    string
		args     []string
		want     int
		inStderr string
	}{
		{"no credential", "", "", []string{"token", "list"}, cli.ExitAuth, cli.EnvToken},
		{"unknown credential", "*:*.not-a-token-of-this-ledger-000000000000", "", []string{"token", "list"}, cli.ExitAuth, "401"},
		{"unknown token id", servicetest.AdminSecret, "", []string{"token", "get", "no-such-token"}, cli.ExitNotFound, "404"},
		{"missing argument", servicetest.AdminSecret, "", []string{"token", "revoke"}, cli.ExitUsage, "token id"},
		{"unknown flag", servicetest.AdminSecret, "", []string{"token", "list", "--colour"}, cli.ExitUsage, "colour"},
		{"bad expiry", servicetest.AdminSecret, "", []string{"token", "create", "--name", "x", "--environment", "development", "--project", "default", "--expires", "soon"}, cli.ExitUsage, "--expires"},
		{"empty lookup", servicetest.AdminSecret, "\n", []string{"token", "lookup"}, cli.ExitUsage, "standard input"},
		{"unknown secret", servicetest.AdminSecret, "default:development.0000", []string{"token", "lookup"}, cli.ExitBadSecret, "unknown"},
		{"bad scope is the server's 400", servicetest.AdminSecret, "", []string{"token", "create", "--name", "x", "--environment", "nowhere", "--project", "default"}, cli.ExitUsage, "HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := cliRun(t, svc, tt.token, tt.stdin, tt.args...)
			if code != tt.want || !strings.Contains(errOut, tt.inStderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s", code, tt.want, errOut)
			}
		})
	}
}

func TestCLI_HelpAndVersionExitZero(t *testing.T) {
	tests := [][]string{{"--help"}, {"token", "--help"}, {"token", "create", "--help"}, {"serve", "--help"}, {"version"}, {"version", "--json"}, {"completion", "bash"}}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := cliRun(t, nil, "", "", args...)
			if code != cli.ExitOK {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if out+errOut == "" && args[0] != "serve" { // serve's flag help goes to the process's stderr
				t.Fatal("printed nothing")
			}
		})
	}
}

func TestCLI_ServerAddressErrorsNameTheirSource(t *testing.T) {
	code, _, errOut := cliRun(t, nil, servicetest.AdminSecret, "", "token", "list", "--server", "ftp://x")
	if code != cli.ExitUsage || !strings.Contains(errOut, "--server") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// A create's Location header names the new token's record, whose id is the
// one PUT, DELETE and the ledger routes take (Unleash's closed create
// schema has no id field).
func TestTokenCreateLocationNamesTheTokensRecord(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	for _, path := range []string{"/api/admin/api-tokens", "/api/admin/projects/default/api-tokens"} {
		t.Run(path, func(t *testing.T) {
			r := svc.Do("POST", path, servicetest.AdminSecret, map[string]any{"tokenName": "loc", "type": "backend", "environment": "development", "projects": []string{"default"}})
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			loc := r.Header.Get("Location")
			if !strings.HasPrefix(loc, "/api/ledger/tokens/") {
				t.Fatalf("Location %q", loc)
			}
			got := svc.Do("GET", loc, servicetest.AdminSecret, nil)
			if got.Status != 200 || got.JSON(t)["id"] != strings.TrimPrefix(loc, "/api/ledger/tokens/") || got.JSON(t)["name"] != "loc" {
				t.Fatalf("GET %s: %d %s", loc, got.Status, got.Body)
			}
		})
	}
}

// The audit trail, a token's history and the state at a moment are a
// command away, in tables for people and JSON for scripts.
func TestCLI_AuditHistoryAndStateOfARevokedToken(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	code, out, errOut := cliRun(t, svc, servicetest.AdminSecret, "", "token", "create", "--name", "audited",
		"--environment", "development", "--project", "default", "--json")
	if code != cli.ExitOK {
		t.Fatalf("create: %d %s", code, errOut)
	}
	var created struct {
		Token struct{ ID string } `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	id := created.Token.ID
	before := time.Now().UTC().Format(time.RFC3339Nano)
	if code, _, errOut := cliRun(t, svc, servicetest.AdminSecret, "", "token", "revoke", id); code != cli.ExitOK {
		t.Fatalf("revoke: %d %s", code, errOut)
	}

	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "audit", "--type", "token.", "--aggregate", id, "--limit", "1", "--all", "--json")
	var audit struct {
		Events []struct{ Type string } `json:"events"`
	}
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &audit) != nil || len(audit.Events) != 2 ||
		audit.Events[0].Type != "token.created" || audit.Events[1].Type != "token.revoked" {
		t.Fatalf("audit --all over pages of 1: exit %d\n%s", code, out)
	}
	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "audit", "--type", "token.revoked")
	if code != cli.ExitOK || !strings.Contains(out, "token.revoked") || !strings.Contains(out, "admin token INIT_ADMIN_API_TOKENS[1]") {
		t.Fatalf("audit table: exit %d\n%s", code, out)
	}

	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "token", "history", id)
	if code != cli.ExitOK || !strings.Contains(out, "hash chain: intact (2 events)") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}

	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "state", "--at", before, "--json")
	var st struct {
		Tokens []struct{ ID, Status string } `json:"tokens"`
	}
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("state: exit %d\n%s", code, out)
	}
	found := false
	for _, tok := range st.Tokens {
		found = found || (tok.ID == id && tok.Status == "valid")
	}
	if !found {
		t.Fatalf("state before the revocation does not show the token valid:\n%s", out)
	}
	if code, _, errOut := cliRun(t, svc, servicetest.AdminSecret, "", "state"); code != cli.ExitUsage || !strings.Contains(errOut, "--seq or --at") {
		t.Fatalf("state without a point: exit %d %s", code, errOut)
	}
}

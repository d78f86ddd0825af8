package cli_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A user whose root role grants CREATE_CLIENT_API_TOKEN (a custom root
// role, the way an operator gives a CI team its tokens) may create client
// tokens, but only an admin may call POST /api/ledger/tokens/lookup, which "token create"
// calls after the create to find the new token's id. The create must not
// end with the secret thrown away: it is shown only once, the token is
// live, and an exit code that says "not authorised" makes a script try
// again, leaving another live token nobody holds the secret of.
func TestCLITokenCreateByATokenCreatorWhoIsNotAdminPrintsTheSecret(t *testing.T) {
	svc := servicetest.Start(t, "", nil)
	role := svc.CreateRole("client-token-makers", "root-custom", "CREATE_CLIENT_API_TOKEN", "READ_CLIENT_API_TOKEN")
	editor := svc.CreateUser("ci-bot-owner", role)
	for _, asJSON := range []bool{false, true} {
		name := "table"
		args := []string{"token", "create", "--name", "ci-" + name, "--type", "backend", "--environment", "development", "--project", "default"}
		if asJSON {
			name = "json"
			args = []string{"token", "create", "--name", "ci-" + name, "--type", "backend", "--environment", "development", "--project", "default", "--json"}
		}
		t.Run(name, func(t *testing.T) {
			before := len(svc.Tokens.ByName("ci-" + name))
			code, out, errOut := cliRun(t, svc, editor.Secret, "", args...)
			created := svc.Tokens.ByName("ci-" + name)
			if len(created) != before+1 {
				t.Fatalf("create: exit %d, %d tokens named ci-%s: %s", code, len(created), name, errOut)
			}
			if code != cli.ExitOK || !strings.Contains(out, "default:development.") {
				t.Fatalf("the token was created (live: %v), but the CLI exited %d without printing its secret:\nstdout: %q\nstderr: %s",
					created[len(created)-1].RevokedAt.IsZero(), code, out, errOut)
			}
		})
	}
	// The route token create calls after the create is refused to this user.
	svc.Must(http.StatusForbidden, "POST", "/api/ledger/tokens/lookup", editor.Secret, map[string]string{"secret": "x"})
}

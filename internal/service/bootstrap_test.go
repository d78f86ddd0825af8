package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The bootstrap admin token's hint, readable by every stream subscriber in
// its token.created event, shows none of the hand-chosen secret's
// characters beyond its scope prefix.
func TestBootstrapTokenHint_RevealsNoSecretCharacters(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	tok, ok := s.Tokens.Lookup(servicetest.AdminSecret)
	if !ok {
		t.Fatal("the bootstrap token is not in the token set")
	}
	if tok.Hint != "*:*.…" {
		t.Fatalf("hint %q, want %q", tok.Hint, "*:*.…")
	}
}

// An INIT token scoped to an environment that does not exist stops the
// start with the command's scope rule naming it; nothing is imported.
func TestBootstrapImport_UnknownEnvironmentRefusesTheStart(t *testing.T) {
	env := map[string]string{"INIT_ADMIN_API_TOKENS": servicetest.AdminSecret,
		"INIT_BACKEND_API_TOKENS": "default:nowhere.init-backend-secret-1234567890"}
	m := service.NewMain(service.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NATSListen: "off", Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: &servicetest.LogBuffer{}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), `environment "nowhere"`) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("start: %v, want the unknown environment named", err)
	}
}

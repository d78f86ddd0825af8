package service_test

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table documents every HTTP limit flag and its
// environment twin, and does not claim /edge/validate is not
// rate-limited: an operator reading it knows that clients behind one
// address share a budget, and how to change it.
func TestREADMEDocumentsTheHTTPLimitFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, flag := range []string{"--max-connections", "--unauth-rate", "--unauth-burst", "--mutation-rate", "--mutation-burst", "--trusted-origins"} {
		env := "TOKENLEDGER_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(flag, "--"), "-", "_"))
		if !strings.Contains(readme, "`"+flag+"`") || !strings.Contains(readme, env) {
			t.Errorf("README does not document %s (%s)", flag, env)
		}
	}
	if strings.Contains(readme, "and not rate-limited") {
		t.Error("README still says /edge/validate is not rate-limited")
	}
}

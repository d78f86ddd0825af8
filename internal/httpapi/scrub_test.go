package httpapi

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// FuzzScrubSecretsLeavesNoSecretHex: whatever text a client sends, the
// scrubbed text holds no run of hex digits as long as a secret's, and
// scrubbing it again changes nothing.
func FuzzScrubSecretsLeavesNoSecretHex(f *testing.F) {
	s := &Server{tokens: tokenset.New()}
	for _, seed := range []string{
		"", "plain reason", "user:" + strings.Repeat("0a", 32), "*:development." + strings.Repeat("f", 64),
		"x" + strings.Repeat("1", 47) + "y", "(user:" + strings.Repeat("AB", 40) + ").", "日本" + strings.Repeat("c", 50),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out := s.scrubSecrets(v)
		if hasSecretHex(out) {
			t.Fatalf("scrubSecrets(%q) = %q still holds a secret's run of hex", v, out)
		}
		if again := s.scrubSecrets(out); again != out {
			t.Fatalf("scrubbing twice changed %q to %q", out, again)
		}
		// Text of more parts than the lookups allow is "[secret]" whole
		// (fail closed), whatever it holds.
		complete := secretWords(v, func(string) bool { return true })
		if !hasSecretHex(v) && complete && out != v {
			t.Fatalf("text without a secret (%q) was changed to %q", v, out)
		}
		if !hasSecretHex(v) && !complete && out != "[secret]" {
			t.Fatalf("text of more parts than the lookups allow (%q) was changed to %q, not failed closed", v, out)
		}
	})
}

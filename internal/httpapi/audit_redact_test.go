package httpapi

import "testing"

func TestBlankAdminVerifierEmptiesOnlyAnAdminTokensVerifier(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"admin token", `{"tokenType":"admin","name":"a","verifier":"abcd","hint":"x"}`, `{"tokenType":"admin","name":"a","verifier":"","hint":"x"}`},
		{"client token", `{"tokenType":"client","verifier":"abcd"}`, `{"tokenType":"client","verifier":"abcd"}`},
		{"a name that quotes the admin type", `{"tokenType":"client","name":"\"tokenType\":\"admin\"","verifier":"abcd"}`, `{"tokenType":"client","name":"\"tokenType\":\"admin\"","verifier":"abcd"}`},
		{"already blank", `{"tokenType":"admin","verifier":""}`, `{"tokenType":"admin","verifier":""}`},
		{"no verifier", `{"tokenType":"admin"}`, `{"tokenType":"admin"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if got := string(blankAdminVerifier(in)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if string(in) != tt.in {
				t.Errorf("the input was changed: %s", in)
			}
		})
	}
}

func TestSecretShapedKnowsTokensFromFilterValues(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"*:development.e18fa6a39a51d9551ac587a78a5224da599271233992fd471ce9038a7dd0ba57", true},
		{"[]:production.0123456789abcdef0123456789abcdef", true},
		{"e18fa6a39a51d9551ac587a78a5224da599271233992fd471ce9038a7dd0ba57", true},
		{"2026-12-06T04:01:09.394888065Z", false},
		{"token.revoked", false},
		{"01a24983-5d14-77a1-be04-b21da7a095b2", false},
		{"alice@example.com", false},
		{"user:42", false},
	}
	for _, tt := range tests {
		if got := secretShaped(tt.in); got != tt.want {
			t.Errorf("secretShaped(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

package commands_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

func TestGenerateSecret_UnleashShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		tokenType   string
		projects    []string
		all         bool
		env         string
		wantPrefix  string
		wantProject string
	}{
		{"one_project", events.TokenBackend, []string{"default"}, false, "development", "default:development.", "default"},
		{"several_projects", events.TokenFrontend, []string{"a", "b"}, false, "production", "[]:production.", "[]"},
		{"all_projects", events.TokenClient, nil, true, "development", "*:development.", "*"},
		{"admin", events.TokenAdmin, nil, true, "*", "*:*.", "*"},
		{"personal", events.TokenPersonal, nil, false, "", "user:", ""},
		{"service_account", events.TokenServiceAccount, nil, false, "", "user:", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := commands.RandomSecret(tt.tokenType, tt.projects, tt.all, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			v := s.Reveal()
			if !strings.HasPrefix(v, tt.wantPrefix) || len(v) != len(tt.wantPrefix)+64 {
				t.Fatalf("secret shape wrong: prefix %q len %d", tt.wantPrefix, len(v))
			}
			p, err := commands.ParseToken(v)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Checksummed {
				t.Error("generated secret does not carry a valid checksum")
			}
			if p.Projects != tt.wantProject {
				t.Errorf("projects part = %q, want %q", p.Projects, tt.wantProject)
			}
			// A one-character typo breaks the checksum.
			typo := []byte(v)
			typo[len(typo)-20] ^= 1
			if q, err := commands.ParseToken(string(typo)); err == nil && q.Checksummed {
				t.Error("checksum accepted a typo")
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	legacy := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		shape   string
		env     string
		project string
		wantErr bool
	}{
		{in: "default:development.unleash-insecure-api-token", shape: commands.ShapeAPI, env: "development", project: "default"},
		{in: "*:*.unleash-insecure-admin-api-token", shape: commands.ShapeAPI, env: "*", project: "*"},
		{in: "[]:production.abc", shape: commands.ShapeAPI, env: "production", project: "[]"},
		{in: "user:abc", shape: commands.ShapePersonal},
		{in: legacy, shape: commands.ShapeLegacy},
		{in: "", wantErr: true},
		{in: "user:", wantErr: true},
		{in: "nocolon", wantErr: true},
		{in: strings.Repeat("AB", 32), wantErr: true}, // legacy keys are lowercase hex
		{in: ":development.x", wantErr: true},
		{in: "p:development.", wantErr: true},
		{in: "p:.x", wantErr: true},
		{in: "p:development", wantErr: true},
		{in: "p:dev.x y", wantErr: true},
		{in: "p:dev.x\n", wantErr: true},
		{in: "p:dev." + strings.Repeat("x", 600), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.30q", tt.in), func(t *testing.T) {
			t.Parallel()
			p, err := commands.ParseToken(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", p)
				}
				if tt.in != "" && strings.Contains(err.Error(), tt.in) {
					t.Fatal("error message contains the input")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Shape != tt.shape || p.Environment != tt.env || p.Projects != tt.project {
				t.Fatalf("got %+v", p)
			}
		})
	}
}

func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"default:development.abc", "*:*.x", "user:abc", strings.Repeat("0", 64), "[]:p.q", ":", "a:b.", "user:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := commands.ParseToken(s)
		if err != nil {
			if p != (commands.ParsedToken{}) {
				t.Fatal("error with a non-zero result")
			}
			return
		}
		if p.Body == "" || !strings.HasSuffix(s, p.Body) {
			t.Fatalf("body %q not a suffix of input", p.Body)
		}
		switch p.Shape {
		case commands.ShapeAPI:
			if want := p.Projects + ":" + p.Environment + "." + p.Body; want != s {
				t.Fatalf("parts %q do not rebuild input", want)
			}
		case commands.ShapePersonal:
			if "user:"+p.Body != s {
				t.Fatal("personal parts do not rebuild input")
			}
		case commands.ShapeLegacy:
			if len(s) != 64 {
				t.Fatal("legacy key of wrong length")
			}
		default:
			t.Fatalf("unknown shape %q", p.Shape)
		}
		h := commands.Hint(s)
		if !strings.HasPrefix(h, s[:len(s)-len(p.Body)]) {
			t.Fatalf("hint %q does not start with the prefix", h)
		}
		if shown := strings.TrimPrefix(h, s[:len(s)-len(p.Body)]+"…"); len(shown) > 4 || (len(p.Body) < 16 && shown != "") {
			t.Fatalf("hint shows %q of a %d-byte body", shown, len(p.Body))
		}
	})
}

func TestSecret_RedactsItself(t *testing.T) {
	t.Parallel()
	s, err := commands.RandomSecret(events.TokenBackend, []string{"default"}, false, "development")
	if err != nil {
		t.Fatal(err)
	}
	raw := s.Reveal()
	body := raw[len(raw)-64:]
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("issued", "secret", s)
	j, _ := json.Marshal(struct{ S commands.Secret }{s})
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%+v": fmt.Sprintf("%+v", s),
		"%#v": fmt.Sprintf("%#v", s), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"json": string(j), "slog": logs.String(), "struct": fmt.Sprintf("%+v", struct{ S commands.Secret }{s}),
	}
	for name, out := range outputs {
		if strings.Contains(out, body) || strings.Contains(out, fmt.Sprintf("%x", body)) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	if !s.Equal(commands.NewSecretFrom(raw)) || s.Equal(commands.NewSecretFrom(raw+"x")) {
		t.Error("Equal is wrong")
	}
	if s.Verifier() != events.VerifierHex(raw) {
		t.Error("verifier is not the SHA-256 of the whole secret")
	}
}

func TestHint_ShowsPrefixAndLastFour(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"default:development." + strings.Repeat("a", 60) + "1234": "default:development.…1234",
		"user:" + strings.Repeat("b", 60) + "9876":                "user:…9876",
		strings.Repeat("c", 60) + "abcd":                          "…abcd",
		"*:*.short-bootstrap":                                     "*:*.…",
	}
	for in, want := range tests {
		if got := commands.Hint(in); got != want {
			t.Errorf("Hint = %q, want %q", got, want)
		}
	}
}

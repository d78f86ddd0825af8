package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// readmeFirstSteps is the README's first-steps block, as .ci/readme-first-steps
// extracts it.
func readmeFirstSteps(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- first-steps:begin -->\n```sh\n(.*?)```\n<!-- first-steps:end -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("README has no first-steps block")
	}
	return string(m[1])
}

// CI runs the README's first steps so that the README "cannot rot"; the
// block is only a check if it fails when the ledger answers wrongly, not
// only when an answer is not 2xx. Here a real reverse proxy in front of a
// real ledger changes one answer the block prints (what Edge is told about
// the new token; the verdict of its hash chain): the block must exit
// non-zero, as it would if the ledger itself answered so.
func TestReadmeFirstStepsFailWhenAnAnswerIsWrong(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/readme-first-steps installs jq)", tool)
		}
	}
	block := readmeFirstSteps(t)
	admin := regexp.MustCompile(`(?m)^ADMIN='([^']+)'`).FindStringSubmatch(block)
	if admin == nil {
		t.Fatal("the block sets no ADMIN")
	}
	svc := servicetest.Start(t, "", map[string]string{"INIT_ADMIN_API_TOKENS": admin[1]})
	target, _ := url.Parse(svc.URL())

	tests := []struct {
		name     string
		route    string // path prefix whose answer the proxy replaces
		answer   string
		wantFail bool
	}{
		{"answers unchanged", "", "", false},
		{"Edge is told the new token is not valid", "/edge/validate", `{"tokens":[]}`, true},
		{"the token's hash chain is broken", "/api/ledger/tokens/", `{"chain":{"intact":false,"events":2,"error":"hash mismatch at seq 5"},"events":[{"seq":5,"type":"token.created"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := httputil.NewSingleHostReverseProxy(target)
			proxy.ModifyResponse = func(resp *http.Response) error {
				p := resp.Request.URL.Path
				if tt.route == "" || !strings.HasPrefix(p, tt.route) || (tt.route == "/api/ledger/tokens/" && !strings.HasSuffix(p, "/history")) {
					return nil
				}
				resp.Body.Close()
				resp.Body = io.NopCloser(strings.NewReader(tt.answer))
				resp.ContentLength = int64(len(tt.answer))
				resp.Header.Set("Content-Length", strconv.Itoa(len(tt.answer)))
				return nil
			}
			front := httptest.NewServer(proxy) // on 127.0.0.1
			defer front.Close()
			addr := front.URL
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
			cmd.Env = append(os.Environ(), "TOKENLEDGER_ADDR="+addr)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if tt.wantFail && err == nil {
				t.Fatalf("the first steps exited 0 although the answer was wrong, so CI passes:\n%s", out.String())
			}
			if !tt.wantFail && err != nil {
				t.Fatalf("the first steps failed against the real ledger: %v\n%s", err, out.String())
			}
		})
	}
}

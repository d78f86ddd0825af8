package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/httpapi"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// BenchmarkEdgeValidateHandler is the handler's own share of a
// validation, without the network: the ledger's ServeHTTP answering
// /edge/validate of one valid backend token, beside a bare handler that
// reads the body and writes the same JSON (the floor of BenchmarkValidateWrk16
// in internal/service), both into the same minimal ResponseWriter.
//
//	go test -run '^$' -bench '^BenchmarkEdgeValidateHandler$' -benchmem ./internal/httpapi/
func BenchmarkEdgeValidateHandler(b *testing.B) {
	api, secret := edgeServer(b)
	body := []byte(`{"tokens":["` + secret + `"]}`)
	answer, _ := json.Marshal(map[string]any{"tokens": []map[string]any{{"token": secret, "type": "backend",
		"projects": []string{"default"}, "environment": "development"}}})
	answer = append(answer, '\n')
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"ours", api}, {"bare", bare}} {
		b.Run(c.name, func(b *testing.B) {
			rd := bytes.NewReader(body)
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/edge/validate", nil)
			r.RemoteAddr = "127.0.0.1:40000"
			r.Header.Set("Content-Type", "application/json")
			r.ContentLength = int64(len(body))
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r.Body = io.NopCloser(rd)
				clear(w.h)
				w.status, w.n = 0, 0
				c.h.ServeHTTP(w, r)
				if w.n != len(answer) || (w.status != 0 && w.status != http.StatusOK) {
					b.Fatalf("status %d, %d bytes, want 200 and %d", w.status, w.n, len(answer))
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the status and
// the body's length.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// newAPI is the API over a real store, with its projections' Runner (not
// started) and command handler.
func newAPI(tb testing.TB) (*httpapi.Server, *projections.Runner, *commands.Handler) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	st, err := jsstore.Open(ctx, natstest.Connect(tb, natstest.RunServer(tb)), jsstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	tokens, dir, audit := tokenset.New(), directory.New(), auditlog.New(st)
	runner := projections.NewRunner(st, tokens, dir, audit)
	cmd := commands.NewHandler(st, commands.Config{})
	api := httpapi.New(httpapi.Config{}, httpapi.Deps{Commands: cmd, Tokens: tokens,
		Directory: dir, Audit: audit, Runner: runner, Source: st, Store: st, Health: st.Health})
	return api, runner, cmd
}

// edgeServer is the API over a real store, its projections caught up,
// holding one backend token of the default project in development.
func edgeServer(b *testing.B) (*httpapi.Server, string) {
	b.Helper()
	api, runner, cmd := newAPI(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	b.Cleanup(cancel)
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	b.Cleanup(func() { stop(); <-done })
	created, err := cmd.CreateToken(ctx, commands.Meta{Actor: events.Actor{Kind: events.ActorUser, ID: "u-admin", Name: "admin"}},
		commands.CreateToken{Type: events.TokenBackend, Name: "edge", Environment: "development", Projects: []string{"default"},
			Path: events.PathAdminAPI})
	if err != nil {
		b.Fatal(err)
	}
	if err := runner.WaitFor(ctx, created.Seq); err != nil {
		b.Fatal(err)
	}
	api.MarkStarted()
	return api, created.Secret.Reveal()
}

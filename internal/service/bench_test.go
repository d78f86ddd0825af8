package service_test

// Service-level benchmarks: the real service on loopback, each beside its
// peer measured in the same run.
//
//	go test -run '^$' -bench '^BenchmarkService' -benchmem -count 3 ./cmd/tokenledger/
//
// edge_validate: POST /edge/validate of one valid token, against a bare
// net/http handler on the same loopback answering the same-size JSON
// (the HTTP floor). create_token: POST /api/admin/api-tokens with
// production durability (sync_interval: always), against the same command
// through the handler without HTTP (the ledger floor: load, decide, one
// fsynced append).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

func BenchmarkServiceEdgeValidate(b *testing.B) {
	s := servicetest.Start(b, "", nil)
	secret, _ := s.CreateToken("backend", "development", "default")
	body, _ := json.Marshal(map[string]any{"tokens": []string{secret}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	post := func(b *testing.B, url string) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n < 50 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b, s.URL()+"/edge/validate")
		}
	})
	b.Run("floor_bare_http", func(b *testing.B) {
		answer, _ := json.Marshal(map[string]any{"tokens": []map[string]any{{"token": secret, "type": "backend",
			"projects": []string{"default"}, "environment": "development"}}})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
		})}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		b.ReportAllocs()
		for b.Loop() {
			post(b, "http://"+ln.Addr().String()+"/edge/validate")
		}
	})
}

func BenchmarkServiceCreateToken(b *testing.B) {
	s := servicetest.StartWith(b, "", nil, func(c *service.Config) { c.NoSync = false }) // production durability
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	i := 0
	b.Run("ours_http", func(b *testing.B) {
		for b.Loop() {
			i++
			body, _ := json.Marshal(map[string]any{"tokenName": fmt.Sprint("bench-", i), "type": "backend", "environment": "development"})
			req, _ := http.NewRequest("POST", s.URL()+"/api/admin/api-tokens", bytes.NewReader(body))
			req.Header.Set("Authorization", servicetest.AdminSecret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.Run("floor_handler_append", func(b *testing.B) {
		m := commands.Meta{Actor: events.System}
		for b.Loop() {
			i++
			_, err := s.Commands.CreateToken(context.Background(), m, commands.CreateToken{Type: events.TokenBackend,
				Name: fmt.Sprint("bench-", i), Environment: "development", Projects: []string{"*"}, Path: events.PathAdminAPI})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

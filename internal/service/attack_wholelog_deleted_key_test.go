package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

func keyedCreate(t *testing.T, m *Main, key string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", m.URL()+"/api/admin/api-tokens", bytes.NewReader(b))
	req.Header.Set("Authorization", testAdmin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// An attacker deletes, in the stopped data dir, the claim of a client's
// Idempotency-Key recorded with the token it created (the snapshot
// covers it). While the whole-log check is pending, another request under
// the same key must be refused (503, or 422 as a reused key) and append
// nothing: never a second token under one key.
func TestAnotherRequestUnderADeletedKeyClaimIsRefusedWhileTheWholeLogCheckIsPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m0, _ := startLedger(t, dir, 4)
	if st, b := keyedCreate(t, m0, "key-1", map[string]any{"tokenName": "k1", "type": "backend", "environment": "development"}); st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}
	tokenLife(t, m0, "after")
	if err := m0.Close(); err != nil {
		t.Fatal(err)
	}
	path, index, recs := readBlock(t, dir)
	c := seqOfType(t, recs, events.TypeTokenCreated, 1)
	kept := recs[:0:0]
	deleted := 0
	for i, r := range recs {
		env, err := events.Unmarshal(r.msg)
		if err == nil && env.Type == events.TypeNameClaimed && i > c && i <= c+3 {
			deleted++
			continue
		}
		kept = append(kept, r)
	}
	if deleted == 0 {
		t.Fatal("no key claim after the token's creation")
	}
	writeBlock(t, dir, path, index, kept, true)

	m, _, release := startChecked(t, dir, true, true)
	defer release()
	ctx := context.Background()
	before, err := m.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, b := keyedCreate(t, m, "key-1", map[string]any{"tokenName": "k2", "type": "backend", "environment": "development"})
	after, err := m.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d %.200s", st, b)
	if st == http.StatusCreated || st == http.StatusOK || after != before {
		t.Errorf("another request under the deleted key claim while pending: %d %.300s, %d appended; want a refusal, none", st, b, after-before)
	}
}

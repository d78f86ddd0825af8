package service

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// An attacker deletes, in the stopped data dir, the name claims (username,
// e-mail) recorded with a user's creation (the snapshot covers them).
// While the whole-log check is pending, creating another user with the
// same username and e-mail reads the claims' aggregates, which no longer
// hold the claim: it must be refused (503, or 409 from the restored
// directory) and append nothing, never create a second user under the
// names.
func TestSecondUserUnderADeletedNameClaimIsRefusedWhileTheWholeLogCheckIsPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m0, _ := startLedger(t, dir, 4)
	body := map[string]any{"username": "cuser", "email": "c@example.com", "rootRole": "Viewer"}
	if st, out := call(t, m0, "POST", "/api/admin/user-admin", body); st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, out)
	}
	tokenLife(t, m0, "after")
	if err := m0.Close(); err != nil {
		t.Fatal(err)
	}
	path, index, recs := readBlock(t, dir)
	u := seqOfType(t, recs, events.TypeUserCreated, 1)
	kept := recs[:0:0]
	deleted := 0
	for i, r := range recs {
		env, err := events.Unmarshal(r.msg)
		if err == nil && env.Type == events.TypeNameClaimed && i >= u-4 && i <= u+4 {
			deleted++
			continue
		}
		kept = append(kept, r)
	}
	if deleted == 0 {
		t.Fatal("no name claim beside the user's creation")
	}
	writeBlock(t, dir, path, index, kept, true)

	m, _, release := startChecked(t, dir, true, true)
	defer release()
	ctx := context.Background()
	before, err := m.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, b := text(t, m, "POST", "/api/admin/user-admin", body)
	after, err := m.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if (st != http.StatusServiceUnavailable && st != http.StatusConflict) || after != before {
		t.Errorf("a second user under the deleted claims (%d deleted) while pending: %d %.300s, %d appended; want 503 or 409, none", deleted, st, b, after-before)
	}
}

package service

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// An attacker with write access to the stopped data dir deletes a live
// token's token.expiry-changed record (one the snapshot covers; checksums
// fixed): the token was created to expire at first, then moved to second.
// The service starts from its snapshot (which holds second) and is ready
// before the whole-log check reached the record. A command on the token
// folds its history from the token's subject, which no longer holds the
// change: asked to move the expiry back to first, the fold finds it
// unchanged and answers 200 without recording anything, and the token
// keeps second. While the check is pending such a command must be refused
// (503) and append nothing; the genuine ledger (deleted=false) records
// the change (200, one event). Once released, the check names the
// deletion.
func TestCommandOnATokenMissingARecordIsRefusedWhileTheWholeLogCheckIsPending(t *testing.T) {
	first, second := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, deleted := range []bool{false, true} {
		t.Run(fmt.Sprint("deleted=", deleted), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			m0, _ := startLedger(t, dir, 4)
			st, out := call(t, m0, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "kept", "type": "backend",
				"environment": "development", "expiresAt": first.Format(time.RFC3339)})
			if st != http.StatusCreated {
				t.Fatalf("create: %d %v", st, out)
			}
			tok, _ := m0.Tokens.Lookup(out["secret"].(string))
			if st, out := call(t, m0, "PUT", "/api/admin/api-tokens/"+tok.ID, map[string]any{"expiresAt": second.Format(time.RFC3339)}); st != http.StatusOK {
				t.Fatalf("change expiry: %d %v", st, out)
			}
			tokenLife(t, m0, "after") // more records after the change
			if err := m0.Close(); err != nil {
				t.Fatal(err)
			}
			path, index, recs := readBlock(t, dir)
			i := seqOfType(t, recs, events.TypeTokenExpiryChanged, 1)
			if deleted {
				writeBlock(t, dir, path, index, append(recs[:i:i], recs[i+1:]...), true)
			}

			m, _, release := startChecked(t, dir, true, true)
			if now, ok := m.Tokens.ByID(tok.ID); !ok || !now.ExpiresAt.Equal(second) {
				t.Fatalf("the snapshot's token: %+v %v", now, ok)
			}
			ctx := context.Background()
			before, err := m.Store.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			st, b := text(t, m, "PUT", "/api/admin/api-tokens/"+tok.ID, map[string]any{"expiresAt": first.Format(time.RFC3339)})
			after, err := m.Store.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case deleted && (st != http.StatusServiceUnavailable || after != before):
				t.Errorf("expiry back to %s while the check is pending, its change deleted: %d %.300s, %d events appended; want 503, none",
					first.Format(time.DateOnly), st, b, after-before)
			case !deleted && (st != http.StatusOK || after != before+1):
				t.Errorf("expiry back to %s on the genuine ledger: %d %.300s, %d events appended; want 200, one",
					first.Format(time.DateOnly), st, b, after-before)
			}

			release()
			err = m.check.Wait(ctx)
			if !deleted {
				if err != nil {
					t.Fatalf("the genuine ledger's check: %v", err)
				}
				return
			}
			if te := events.AsTamper(err); te == nil {
				t.Fatalf("the check did not name the deletion: %v", err)
			}
		})
	}
}

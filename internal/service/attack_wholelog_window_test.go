package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
)

// An attacker with write access to the stopped data dir deletes a token's
// token.revoked record (a record the snapshot covers; the block keeps the
// gap, the checksums are fixed). The service starts from its snapshot and
// is ready before the whole-log check reached the record. While the check
// is pending, nothing may be read or decided on the token's history
// without the deleted revocation: its history, its audit trail and its
// state at the last sequence must not show it unrevoked (200 without the
// revocation): each must be refused (503) or show the revocation. The
// genuine ledger (deleted=false) is the control: the same reads show it.
func TestDeletedRevocationIsNotUsedWhileTheWholeLogCheckIsPending(t *testing.T) {
	for _, deleted := range []bool{false, true} {
		t.Run(fmt.Sprint("deleted=", deleted), func(t *testing.T) { deletedRevocationWhilePending(t, deleted) })
	}
}

func deletedRevocationWhilePending(t *testing.T, deleted bool) {
	dir := stoppedLedger(t)
	path, index, recs := readBlock(t, dir)
	i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
	revoked, err := events.Unmarshal(recs[i].msg)
	if err != nil {
		t.Fatal(err)
	}
	id := revoked.AggregateID
	last := recs[len(recs)-1].seq
	if deleted {
		writeBlock(t, dir, path, index, append(recs[:i:i], recs[i+1:]...), true)
	}

	m, _, release := startChecked(t, dir, true, true)
	defer release()
	if now, ok := m.Tokens.ByID(id); !ok || !now.Revoked {
		t.Fatalf("the snapshot's token set: %+v %v", now, ok)
	}
	reads := []string{
		"/api/ledger/tokens/" + id + "/history",
		"/api/ledger/events?token=" + id,
		fmt.Sprintf("/api/ledger/state/tokens/%s?at=%d", id, last),
	}
	for _, p := range reads {
		st, b := text(t, m, "GET", p, nil)
		if st == http.StatusOK && !strings.Contains(b, events.TypeTokenRevoked) && !strings.Contains(b, `"revoked":true`) &&
			!strings.Contains(b, `"revokedAt"`) {
			t.Errorf("GET %s while the check is pending: 200 without the deleted revocation: %.300s", p, b)
		}
	}
}

// A record the snapshot covers, edited while the ledger was stopped (a
// longer revocation reason, checksums fixed): while the whole-log check is
// pending, an audit bundle (GET /api/ledger/bundle, an audit-trail read)
// that spans it must be refused or hold the genuine record, as every other
// read of a record 1..S is hashed against the snapshot's tree first. The
// bundle is built from the stream as stored (checkpoints.Bundle reads
// Store.ReadStored, not the checked reads) and hands out the edited bytes.
// The genuine ledger (edited=false) is the control.
func TestEditedRecordIsNotBundledWhileTheWholeLogCheckIsPending(t *testing.T) {
	for _, edited := range []bool{false, true} {
		t.Run(fmt.Sprint("edited=", edited), func(t *testing.T) {
			dir := stoppedLedger(t)
			path, index, recs := readBlock(t, dir)
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			const mark = `"reason":"XATTACKER`
			if edited {
				recs[i].msg = bytes.Replace(recs[i].msg, []byte(`"reason":"`), []byte(mark), 1)
				writeBlock(t, dir, path, index, recs, true)
			}
			m, _, release := startChecked(t, dir, true, true)
			defer release()
			st, b := text(t, m, "GET", fmt.Sprintf("/api/ledger/bundle?from_seq=%d&to_seq=%d", i+1, i+1), nil)
			if st == http.StatusServiceUnavailable && !bytes.Contains([]byte(b), []byte(mark)) {
				// Refused while the check is pending (the audit trail waits
				// for it); the genuine ledger's bundle comes once it passed.
				if edited {
					return
				}
				release()
				if err := m.check.Wait(context.Background()); err != nil {
					t.Fatalf("the genuine ledger's check: %v", err)
				}
				st, b = text(t, m, "GET", fmt.Sprintf("/api/ledger/bundle?from_seq=%d&to_seq=%d", i+1, i+1), nil)
			}
			if st != http.StatusOK {
				t.Fatalf("bundle of seq %d: %d %s", i+1, st, b)
			}
			var bundle struct {
				Events []struct {
					Seq  uint64 `json:"seq"`
					Data []byte `json:"data"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(b), &bundle); err != nil || len(bundle.Events) != 1 {
				t.Fatalf("bundle: %v %.300s", err, b)
			}
			if bytes.Contains(bundle.Events[0].Data, []byte(mark)) {
				t.Errorf("the bundle handed out the edited record at %d while the whole-log check was pending: %s", i+1, bundle.Events[0].Data)
			}
		})
	}
}

package service

import (
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

package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/feedtest"
)

// watch shows the deletions that revoke tokens at once (a project, an
// environment, a user, a service account), without --all, in human lines
// and in --json, in ledger order with the token.revoked the ledger
// records after them.
func TestWatchShowsDeletionsThatRevokeTokens(t *testing.T) {
	l := feedtest.Start(t)
	human := startWatch(t, l)
	asJSON := startWatch(t, l, "--json")
	dels := []struct {
		id   string
		p    events.Payload
		word string
	}{
		{"checkout", events.ProjectDeleted{}, "revokes=tokens-of-only-this-project"},
		{"staging", events.EnvironmentDeleted{}, "revokes=tokens-of-this-environment"},
		{"0193a5b2-0000-7000-8000-0000000000d1", events.UserDeleted{}, "revokes=tokens-it-owns"},
		{"0193a5b2-0000-7000-8000-0000000000d2", events.ServiceAccountDeleted{}, "revokes=tokens-it-owns"},
	}
	var seqs []uint64
	for _, d := range dels {
		seqs = append(seqs, l.Delete(t, d.id, d.p))
	}
	for i, d := range dels {
		w := nextJSON(t, asJSON)
		wantSubject := fmt.Sprintf("ledger.%s.%s.deleted", strings.TrimSuffix(d.p.EventType(), ".deleted"), d.id)
		if w.Event.Type != d.p.EventType() || w.Event.Aggregate != d.id || w.LedgerSeq != seqs[i] || w.Subject != wantSubject {
			t.Errorf("--json line %d: %+v, want %s of %s on %s at ledger sequence %d", i, w, d.p.EventType(), d.id, wantSubject, seqs[i])
		}
		line := nextLine(t, human)
		for _, part := range []string{d.p.EventType(), d.id, d.word, fmt.Sprintf("ledger-seq=%d", seqs[i])} {
			if !strings.Contains(line, part) {
				t.Errorf("human line %q lacks %q", line, part)
			}
		}
	}
}

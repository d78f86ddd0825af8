package commands_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// lostAckStore is the real store whose first append's acknowledgement is
// lost: the batch is stored, and the retry with the same msg ids (what the
// store does after a timeout during a leader election) is answered as a
// duplicate.
type lostAckStore struct {
	*jsstore.Store
	lost atomic.Bool
}

func (s *lostAckStore) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	st, err := s.Store.Append(ctx, batch...)
	if err != nil || s.lost.Swap(true) {
		return st, err
	}
	return s.Store.Append(ctx, batch...)
}

// Ensure a command whose append was stored but whose acknowledgement was
// lost reports the stored outcome (a replay of itself), for every command
// shape: deletions that cascade, with or without a fold of their own, and
// plain updates.
func TestHandler_LostAcknowledgementReportsTheStoredOutcome(t *testing.T) {
	cases := []struct {
		name string
		run  func(l *ledger, h *commands.Handler, m commands.Meta) (commands.Result, error)
	}{
		{"delete_environment", func(l *ledger, h *commands.Handler, m commands.Meta) (commands.Result, error) {
			return h.DeleteEnvironment(l.ctx, m, commands.DeleteEnvironment{Name: "staging", Others: []string{"development", "production"}})
		}},
		{"delete_project", func(l *ledger, h *commands.Handler, m commands.Meta) (commands.Result, error) {
			return h.DeleteProject(l.ctx, m, "gone", nil)
		}},
		{"update_environment", func(l *ledger, h *commands.Handler, m commands.Meta) (commands.Result, error) {
			return h.UpdateEnvironment(l.ctx, m, commands.UpdateEnvironment{Name: "staging", Type: "test"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t)
			l.seedCatalogue()
			if _, err := l.h.CreateProject(l.ctx, meta(""), commands.CreateProject{ProjectID: "gone"}); err != nil {
				t.Fatal(err)
			}
			h := newTestHandler(&lostAckStore{Store: l.store})
			before := l.lastSeq()
			r, err := tc.run(l, h, meta("lost-ack"))
			if err != nil {
				t.Fatalf("after a lost acknowledgement: %v", err)
			}
			if r.Seq <= before || r.Seq != l.lastSeq() {
				t.Fatalf("result %+v; stream %d -> %d: want the stored batch's last sequence", r, before, l.lastSeq())
			}
		})
	}
}

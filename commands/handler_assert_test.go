package commands_test

import (
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// refusal is a command that must be refused and append nothing: wantErr
// is the sentinel it returns, or nil for a ValidationError.
type refusal struct {
	name    string
	run     func() error
	wantErr error
}

// assertRefused runs each refusal as a subtest and checks its error and
// that the stream did not move.
func (l *ledger) assertRefused(t *testing.T, tests []refusal) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.t = t
			before := l.lastSeq()
			err := tt.run()
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && !commands.IsValidation(err):
				t.Fatalf("got %v, want a ValidationError", err)
			}
			if after := l.lastSeq(); after != before {
				t.Fatalf("stream moved from %d to %d", before, after)
			}
		})
	}
}

// batchEvent is one event a cascade must append: its type and aggregate id.
type batchEvent struct{ typ, id string }

// assertCascade checks that the command m, which returned r, appended
// exactly want in one batch right after sequence before, in order and each
// attributed to m, and that every token of untouched still has the given
// number of events. It returns the appended events.
func (l *ledger) assertCascade(m commands.Meta, r commands.Result, before uint64, want []batchEvent, untouched map[string]int) []events.Envelope {
	t := l.t
	t.Helper()
	n := uint64(len(want))
	if r.Seq != before+n || l.lastSeq() != before+n {
		t.Fatalf("result %+v, stream %d → %d; want %d events", r, before, l.lastSeq(), n)
	}
	got := l.between(before+1, r.Seq)
	for i, w := range want {
		e := got[i]
		if e.Type != w.typ || e.AggregateID != w.id || e.Sequence != before+1+uint64(i) {
			t.Fatalf("event %d = %s of %s at %d, want %s of %s at %d", i, e.Type, e.AggregateID, e.Sequence, w.typ, w.id, before+1+uint64(i))
		}
		if e.CommandID != m.CommandID || e.Actor != m.Actor || e.Via != m.Via {
			t.Errorf("event %d not attributed to the command: %+v", i, e)
		}
	}
	for id, n := range untouched {
		if evs := l.load(events.KindToken, id); len(evs) != n {
			t.Errorf("token %s has %d events, want %d (untouched)", id, len(evs), n)
		}
	}
	return got
}

package expiry

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
)

// A recorder counts what it appended and stops only on errors that a later
// tick cannot resolve by itself.
func TestRecordedCountsAppendsAndStopsOnlyOnRealErrors(t *testing.T) {
	boom := errors.New("store down")
	tests := []struct {
		name     string
		res      commands.Result
		err      error
		appended bool
		stop     bool
	}{
		{"appended", commands.Result{Seq: 7}, nil, true, false},
		{"replayed by another replica", commands.Result{Seq: 7, Replayed: true}, nil, false, false},
		{"conflict", commands.Result{}, fmt.Errorf("x: %w", commands.ErrConflict), false, false},
		{"already revoked", commands.Result{}, commands.ErrGone, false, false},
		{"already expired", commands.Result{}, commands.ErrExists, false, false},
		{"token gone", commands.Result{}, commands.ErrNotFound, false, false},
		{"store down", commands.Result{}, boom, false, true},
		{"ledger refuses writes", commands.Result{}, commands.ErrUnavailable, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appended, err := recorded(tt.res, tt.err)
			if appended != tt.appended || (err != nil) != tt.stop {
				t.Fatalf("recorded = %v, %v; want appended %v, stop %v", appended, err, tt.appended, tt.stop)
			}
		})
	}
}

package httpapi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/httpapi"
)

// Failed appends are counted by a cause from a closed set, however the
// store wrapped the error.
func TestAppendCauseIsFromAClosedSet(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"conflict", fmt.Errorf("jsstore: append to x: %w (wrong last sequence)", commands.ErrConflict), httpapi.CauseConflict},
		{"unavailable", fmt.Errorf("jsstore: append refused: %w: %w", commands.ErrUnavailable, errors.New("max_age limit")), httpapi.CauseUnavailable},
		{"timeout", errors.New("jsstore: append: outcome unknown, retry with the same MsgID: context deadline exceeded"), httpapi.CauseOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpapi.AppendCause(tt.err); got != tt.want {
				t.Errorf("AppendCause(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

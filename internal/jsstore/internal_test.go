package jsstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

func TestStreamConfigPassesCheckConfig(t *testing.T) {
	if err := CheckConfig(StreamConfig(Config{})); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{Stream: "LEDGER", Replicas: 1, Duplicates: DefaultDuplicates, Recheck: DefaultRecheck, StallCheck: DefaultStallCheck}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	if set := (Config{Stream: "X", Replicas: 3}).withDefaults(); set.Stream != "X" || set.Replicas != 3 {
		t.Fatalf("explicit values overridden: %+v", set)
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{"ledger.>", true},
		{">", true},
		{"*.>", true},
		{"ledger.*", false},
		{"ledger.token.>", false},
		{"ledger", false},
		{"other.>", false},
		{"ledger.*.>", false},
	}
	for _, tt := range tests {
		if got := covers(tt.pattern, "ledger.>"); got != tt.want {
			t.Errorf("covers(%q, ledger.>) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"2.15.2", true},
		{"2.12.0", true},
		{"v2.12.0-RC.1", true},
		{"3.0.0", true},
		{"2.11.9", false},
		{"2.10.24", false},
		{"1.99.0", false},
		{"", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := versionAtLeast(tt.v, 2, 12); got != tt.want {
			t.Errorf("versionAtLeast(%q, 2.12) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestAppendErrorMapping covers the codes that do not need a lookup in the
// stream (conflicts and duplicates are exercised against a server).
func TestAppendErrorMapping(t *testing.T) {
	s := &Store{name: "LEDGER"}
	ev := events.Envelope{Type: events.TypeTokenCreated, AggregateKind: events.KindToken, AggregateID: "x"}
	batch := []commands.Append{{Event: ev}}
	api := func(code jetstream.ErrorCode) error {
		return fmt.Errorf("nats: %w", &jetstream.APIError{Code: 400, ErrorCode: code, Description: "test"})
	}
	tests := []struct {
		name        string
		err         error
		unavailable bool
		unknown     bool // the error must say the outcome is unknown
	}{
		{"limit reached (10077)", api(10077), true, false},
		{"storage exhausted (10047)", api(10047), true, false},
		{"sealed (10109)", api(10109), true, false},
		{"another stream owns the subject (10060)", api(10060), true, false},
		{"no stream answered", jetstream.ErrNoStreamResponse, true, false},
		{"message too large (10054)", api(10054), false, false},
		{"timeout", context.DeadlineExceeded, false, true},
		{"disconnected", nats.ErrConnectionClosed, false, true},
		{"another API error", api(10999), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.failed(context.Background(), batch, tt.err)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, commands.ErrUnavailable); got != tt.unavailable {
				t.Fatalf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.unavailable)
			}
			if errors.Is(err, commands.ErrConflict) {
				t.Fatalf("%v is not a conflict", err)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("%v does not wrap the cause", err)
			}
			if got := strings.Contains(err.Error(), "outcome unknown"); got != tt.unknown {
				t.Fatalf("%v: says the outcome is unknown = %v, want %v", err, got, tt.unknown)
			}
		})
	}
}

package service_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
)

// Serve calls its caught-up hooks (cmd/tokenledger's collector target
// after the start's replay) exactly once, whether the start ends serving
// or fails.
func TestServeCallsItsCaughtUpHooksOnceTheStartIsOver(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name   string
		listen string
		serves bool
	}{
		{"the service serves", "127.0.0.1:0", true},
		{"the start fails (its HTTP address is taken)", busy.Addr().String(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int32
			called := make(chan struct{}, 1)
			hook := func() {
				calls.Add(1)
				select {
				case called <- struct{}{}:
				default:
				}
			}
			args := []string{"--listen", tt.listen, "--nats-listen", "off", "--data-dir", t.TempDir(), "--log-level", "error"}
			done := make(chan error, 1)
			go func() { done <- service.Serve(ctx, args, func(string) string { return "" }, hook) }()
			select {
			case <-called:
			case err := <-done:
				t.Fatalf("Serve returned %v before calling its hook", err)
			case <-time.After(2 * time.Minute):
				t.Fatal("no hook call within 2 minutes")
			}
			cancel()
			select {
			case err := <-done:
				if gotErr := err != nil; gotErr == tt.serves {
					t.Fatalf("Serve returned %v; serves %v", err, tt.serves)
				}
			case <-time.After(time.Minute):
				t.Fatal("Serve did not return within a minute of its cancel")
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("the hook was called %d times, want 1", n)
			}
		})
	}
}

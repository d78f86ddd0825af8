package service_test

import (
	"bufio"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/service"
)

// --nats-max-unauthenticated (and its environment twin) sets the front's
// cap of sockets that have not signed in; unset, the front's default.
func TestParseConfigNATSMaxUnauthenticated(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    int
		wantErr string
	}{
		{"default", nil, nil, 0, ""},
		{"flag", []string{"--nats-max-unauthenticated", "16"}, nil, 16, ""},
		{"environment", nil, map[string]string{"TOKENLEDGER_NATS_MAX_UNAUTHENTICATED": "8"}, 8, ""},
		{"zero", []string{"--nats-max-unauthenticated", "0"}, nil, 0, "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := service.ParseConfig(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig = %v, want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.NATSMaxUnauthenticated != tt.want {
				t.Fatalf("NATSMaxUnauthenticated = %d, want %d", c.NATSMaxUnauthenticated, tt.want)
			}
		})
	}
}

// The service's NATS listener is the front: one address holds at most
// half of --nats-max-unauthenticated sockets that have not signed in (a
// new one closes its longest-waiting one at once, long before the auth
// timeout), the front logs the address it closed (the server sees only
// a pipe), and a reader still signs in.
func TestServiceNATSListenerBoundsUnauthenticatedSockets(t *testing.T) {
	s := startWithReaders(t, "", func(c *service.Config) { c.NATSMaxUnauthenticated = 2 })
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	dial := func() (net.Conn, *bufio.Reader) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		c, err := d.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
			t.Fatalf("first line %q, %v; want INFO", line, err)
		}
		return c, r
	}
	first, r := dial()
	_, _ = dial() // the address's one slot: the first socket makes room
	_ = first.SetReadDeadline(time.Now().Add(10 * time.Second))
	var err2 error
	for i := 0; i < 10 && err2 == nil; i++ { // bounded: the server says at most INFO again
		_, err2 = r.ReadString('\n')
	}
	var ne net.Error
	if errors.As(err2, &ne) && ne.Timeout() {
		t.Fatal("the address's first unauthenticated socket is still open after its second")
	}
	if !logsHave(s.Logs(), "to make room", first.LocalAddr().String()) {
		t.Fatalf("no log line says the front closed %s to make room:\n%s", first.LocalAddr(), s.Logs())
	}
	nc, err := nats.Connect(s.NATSURL(), nats.UserInfo(testReader, testReaderPW), nats.NoReconnect())
	if err != nil {
		t.Fatalf("reader connect: %v", err)
	}
	nc.Close()
}

// logsHave reports whether one log line contains every part.
func logsHave(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

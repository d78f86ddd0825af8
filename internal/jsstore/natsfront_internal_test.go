package jsstore

import (
	"net/netip"
	"testing"
)

// The front takes a socket as signed in at the server's first line that
// starts with PONG or +OK, wherever the server's writes split its output,
// and at nothing else the server says before (INFO, PING, -ERR). The
// first PONG line is the answer to the front's own PING: the client does
// not get it; the INFO the server sends after a first PONG reaches the
// client after its own first PONG (never inside a message's payload);
// everything else reaches it unchanged.
func TestVerdictWatchFindsTheSignInAndRemovesItsPong(t *testing.T) {
	info := `INFO {"server_id":"X","client_id":7,"nonce":"PONG+OK"}` + "\r\n"
	cinfo := `INFO {"server_id":"X","connect_info":true,"remote_account":"R"}` + "\r\n"
	tests := []struct {
		name   string
		chunks []string
		want   int    // index of the chunk that completes the sign-in; -1 none
		client string // what the client receives
	}{
		{"INFO alone", []string{info}, -1, info},
		{"PONG after INFO", []string{info, "PONG\r\n"}, 1, info},
		{"+OK (verbose) after INFO", []string{info, "+OK\r\n", "PONG\r\n"}, 1, info + "+OK\r\n"},
		{"INFO and PONG in one write", []string{info + "PONG\r\n"}, 0, info},
		{"PONG split across writes", []string{info + "PO", "N", "G\r", "\n"}, 2, info},
		{"the client's own PONG follows", []string{info + "PONG\r\nPONG\r\n"}, 0, info + "PONG\r\n"},
		{"messages after the verdict pass", []string{info, "PONG\r\nMSG a 1 4\r\nPONG\r\n"}, 1, info + "MSG a 1 4\r\nPONG\r\n"},
		{"server PING is not PONG", []string{info, "PING\r\n"}, -1, info + "PING\r\n"},
		{"P then I split", []string{info, "P", "ING\r\n"}, -1, info + "PING\r\n"},
		{"refused", []string{info, "-ERR 'Authorization Violation'\r\n"}, -1, info + "-ERR 'Authorization Violation'\r\n"},
		{"timed out", []string{info, "-ERR 'Authentication Timeout'\r\n"}, -1, info + "-ERR 'Authentication Timeout'\r\n"},
		{"PONG inside a line", []string{"-ERR 'x PONG'\r\n", "INFO {\"a\":\"\r\"}+OK\r\n"}, -1, "-ERR 'x PONG'\r\nINFO {\"a\":\"\r\"}+OK\r\n"},
		{"+O then K split", []string{info, "+", "O", "K"}, 3, info + "+OK"},
		{"connect INFO moves after the client's PONG", []string{info, "PONG\r\n" + cinfo + "PONG\r\n"}, 1, info + "PONG\r\n" + cinfo},
		{"connect INFO split", []string{info + "PONG\r\n" + cinfo[:9], cinfo[9:] + "PO", "NG\r\n+OK\r\n"}, 0, info + "PONG\r\n" + cinfo + "+OK\r\n"},
		{"messages before the client's PONG, PONG in a payload", []string{info, "PONG\r\n" + cinfo, "MSG a 1 6\r\nPONG\r\n\r\nHMSG b 2 r 3 7\r\nH\r\n", "PONG\r\n", "PONG\r\n"},
			1, info + "MSG a 1 6\r\nPONG\r\n\r\nHMSG b 2 r 3 7\r\nH\r\nPONG\r\n" + "PONG\r\n" + cinfo},
		{"a client that never PINGs never gets the connect INFO", []string{info, "PONG\r\n" + cinfo + "MSG a 1 2\r\nhi\r\n"}, 1, info + "MSG a 1 2\r\nhi\r\n"},
		{"no connect INFO (protocol 0)", []string{info, "PONG\r\nMSG a 1 4\r\nPONG\r\n"}, 1, info + "MSG a 1 4\r\nPONG\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w verdictWatch
			got := -1
			var client []byte
			for i, c := range tt.chunks {
				var verdict bool
				client, verdict = w.filter(client, []byte(c))
				if verdict && got < 0 {
					got = i
				}
			}
			if got != tt.want {
				t.Fatalf("signed in at chunk %d, want %d", got, tt.want)
			}
			if string(client) != tt.client {
				t.Fatalf("the client receives %q, want %q", client, tt.client)
			}
		})
	}
}

// The front logs the server's client id (cid), read from its INFO.
func TestInfoClientID(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{`INFO {"server_id":"X","client_id":42,"max_payload":1}` + "\r\n", 42},
		{`INFO {"server_id":"X"}` + "\r\n", 0},
		{`PONG` + "\r\n", 0},
		{`MSG x 1 12` + "\r\n" + `"client_id":9` + "\r\n", 0},
	}
	for _, tt := range tests {
		if got := infoClientID([]byte(tt.in)); got != tt.want {
			t.Errorf("infoClientID(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// The front weighs a flood by network: IPv4 /24, IPv6 /48 (an IPv4-mapped
// address counts as IPv4: clientKey unmaps it).
func TestNetworkKeyGroupsAddressesByNetwork(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.1.77", "127.0.1.0/24"},
		{"10.1.2.3", "10.1.2.0/24"},
		{"2001:db8:1:2::", "2001:db8:1::/48"},
		{"2001:db8:1:ffff:1::", "2001:db8:1::/48"},
	}
	for _, tt := range tests {
		if got := networkKey(netip.MustParseAddr(tt.addr)); got.String() != tt.want {
			t.Errorf("networkKey(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

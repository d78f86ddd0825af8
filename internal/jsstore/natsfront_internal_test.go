package jsstore

import "testing"

// The front takes a socket as signed in at the server's first line that
// starts with PONG or +OK, wherever the server's writes split its output,
// and at nothing else the server says before (INFO, PING, -ERR).
func TestSignInWatchFindsTheFirstPongOrOK(t *testing.T) {
	info := `INFO {"server_id":"X","client_id":7,"nonce":"PONG+OK"}` + "\r\n"
	tests := []struct {
		name   string
		chunks []string
		want   int // index of the chunk that completes the sign-in; -1 none
	}{
		{"INFO alone", []string{info}, -1},
		{"PONG after INFO", []string{info, "PONG\r\n"}, 1},
		{"+OK (verbose) after INFO", []string{info, "+OK\r\n"}, 1},
		{"INFO and PONG in one write", []string{info + "PONG\r\n"}, 0},
		{"PONG split across writes", []string{info + "PO", "N", "G\r\n"}, 2},
		{"server PING is not PONG", []string{info, "PING\r\n"}, -1},
		{"refused", []string{info, "-ERR 'Authorization Violation'\r\n"}, -1},
		{"timed out", []string{info, "-ERR 'Authentication Timeout'\r\n"}, -1},
		{"PONG inside a line", []string{"-ERR 'x PONG'\r\n", "INFO {\"a\":\"\r\"}+OK\r\n"}, -1},
		{"+O then K split", []string{info, "+", "O", "K"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w signInWatch
			got := -1
			for i, c := range tt.chunks {
				if w.signedIn([]byte(c)) {
					got = i
					break
				}
			}
			if got != tt.want {
				t.Fatalf("signed in at chunk %d, want %d", got, tt.want)
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

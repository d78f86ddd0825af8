package jsstore

import (
	"bytes"
	"strconv"
)

// verdictWatch reads the server's output to a client until the answer to
// verdictPing is out of its way. The sign-in is at the first line that
// starts with +OK (a verbose client's CONNECT accepted) or PONG; the first
// PONG line, the server's answer to verdictPing, is removed (the server
// answers PINGs in order, and nothing before it can be a message: the
// client's SUBs come after verdictPing). The server follows its answer to
// a connection's first PING with an INFO (connect_info: the client's
// account), which a client whose CONNECT was followed by its own PING
// would read before that PING's PONG, where nats.go expects the PONG. So
// that INFO is held back and passed on right after the next PONG, where
// the server puts it without the front (a client that never PINGs never
// gets it, as without the front); messages before that PONG pass with
// their payloads skipped by length. Then done: the output passes unread.
type verdictWatch struct {
	phase watchPhase

	// watchVerdict: the current line's first bytes, and how many of them
	// are held back as a prefix of PONG.
	head [4]byte
	n    int
	held int

	line []byte // watchInfo, watchPong: the current line so far
	info []byte // watchPong: the INFO held back
	skip int    // watchPong: message payload bytes (and CRLF) to pass
}

type watchPhase int

const (
	watchVerdict watchPhase = iota // until verdictPing's PONG
	watchDrop                      // the rest of that PONG's line
	watchInfo                      // the line after it: the connect INFO?
	watchPong                      // until the next PONG
	watchDone
)

// maxWatchLine bounds a line the watch holds (an INFO, a MSG's line): a
// longer one is passed on as it is (the INFO at once).
const maxWatchLine = 64 << 10

// filter appends p, less verdictPing's PONG and with the connect INFO
// moved, to dst; verdict is true when p holds the sign-in.
func (w *verdictWatch) filter(dst, p []byte) (out []byte, verdict bool) {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch w.phase {
		case watchDone:
			return append(dst, p[i:]...), verdict
		case watchDrop:
			if b == '\n' {
				w.phase = watchInfo
			}
		case watchVerdict:
			dst, verdict = w.verdictByte(dst, b, verdict)
		case watchInfo:
			w.line = append(w.line, b)
			switch {
			case b == '\n' && bytes.HasPrefix(w.line, []byte("INFO ")):
				w.info, w.line, w.phase = w.line, nil, watchPong
			case b == '\n' || len(w.line) > maxWatchLine:
				dst, w.line, w.phase = append(dst, w.line...), nil, watchDone
			}
		case watchPong:
			if w.skip > 0 {
				k := min(w.skip, len(p)-i)
				dst = append(dst, p[i:i+k]...)
				w.skip -= k
				i += k - 1
				continue
			}
			w.line = append(w.line, b)
			if b != '\n' && len(w.line) <= maxWatchLine {
				continue
			}
			dst = append(dst, w.line...)
			switch {
			case b != '\n':
				dst, w.phase = append(dst, w.info...), watchDone // a line too long to be an op we skip
			case bytes.HasPrefix(w.line, []byte("PONG")):
				dst, w.phase = append(dst, w.info...), watchDone
			case bytes.HasPrefix(w.line, []byte("MSG ")) || bytes.HasPrefix(w.line, []byte("HMSG ")):
				w.skip = payloadSize(w.line) + len("\r\n")
			}
			w.line = w.line[:0]
		}
	}
	return dst, verdict
}

// verdictByte handles one byte before verdictPing's PONG.
func (w *verdictWatch) verdictByte(dst []byte, b byte, verdict bool) ([]byte, bool) {
	if b == '\n' {
		dst = append(append(dst, w.head[:w.held]...), b)
		w.n, w.held = 0, 0
		return dst, verdict
	}
	if w.n == len(w.head) {
		return append(dst, b), verdict
	}
	w.head[w.n] = b
	w.n++
	if w.n == 3 && string(w.head[:3]) == "+OK" {
		verdict = true
	}
	if w.held == w.n-1 && "PONG"[w.n-1] == b {
		w.held = w.n
		if w.n == len("PONG") {
			w.held, w.phase = 0, watchDrop
			return dst, true
		}
		return dst, verdict
	}
	dst = append(append(dst, w.head[:w.held]...), b)
	w.held = 0
	return dst, verdict
}

// payloadSize is the last field of a MSG or HMSG line: its payload's
// length (headers included); 0 if it is not a number.
func payloadSize(line []byte) int {
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.Atoi(string(f[len(f)-1]))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

package jsstore

import "strings"

// ackPosition reads what a replay needs of a JetStream message's
// metadata from its reply subject: the stream sequence and how many
// messages the consumer has pending after it. It reads the same tokens
// as [jetstream.Msg.Metadata] (the 9-token form of older servers,
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>,
// and the 11 or more of newer ones, with the domain and the account hash
// after $JS.ACK and a random token at the end), without allocating:
// Metadata builds a struct and strings per message, and a replay reads
// every message. ok is false for anything else (the caller asks Metadata,
// which reports the error); a number must be decimal digits that fit 64
// bits.
func ackPosition(reply string) (seq, pending uint64, ok bool) {
	const prefix = "$JS.ACK."
	if !strings.HasPrefix(reply, prefix) {
		return 0, 0, false
	}
	// The tokens after the prefix: the 9-token form has 7, the newer one
	// 9 or more. Keep the first 9 of them.
	var tok [9]string
	n := 0
	rest := reply[len(prefix):]
	for {
		t, after, more := strings.Cut(rest, ".")
		if n < len(tok) {
			tok[n] = t
		}
		n++
		if !more {
			break
		}
		rest = after
	}
	var seqTok, pendingTok string
	switch {
	case n == 7: // <stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
		seqTok, pendingTok = tok[3], tok[6]
	case n >= 9: // <domain>.<account hash>.<stream>.… .<pending>[.<token>…]
		seqTok, pendingTok = tok[5], tok[8]
	default:
		return 0, 0, false
	}
	seq, ok = decimal(seqTok)
	if !ok {
		return 0, 0, false
	}
	pending, ok = decimal(pendingTok)
	if !ok {
		return 0, 0, false
	}
	return seq, pending, true
}

// decimal parses s, one or more ASCII digits, as a uint64; ok is false
// for anything else or a value past 64 bits.
func decimal(s string) (v uint64, ok bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

package events

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// plainEnvelope decodes b into e, as UnmarshalDeferred's JSON decoder
// would, when b is an envelope in the plain form the ledger writes: an
// object of distinct members named exactly as Envelope's JSON names (no
// other case, no unknown member), string members without escapes or
// invalid UTF-8, fmt and v small non-negative integers, time a string
// time.Time decodes, actor and via objects of such strings, and data an
// object that is valid JSON. It reports false for anything else, leaving
// e to be reset: the caller then decodes b with the JSON decoder, which
// judges such records. It reads b in one pass without the decoder's
// reflection, which is a fifth of a replay's work per event.
//
// The strings it sets refer to b, as the decoder's do under
// DecodeNoCopyString, and so does Data (the decoder copies it): the
// envelope holds b anyway (Stored). FuzzUnmarshalDeferredIsUnmarshal holds
// it against the decoder.
func plainEnvelope(b []byte, e *Envelope) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	next := 0 // the first member of writeOrder that may come next
	for {
		// The members come in the order Marshal writes them, each once,
		// some left out: the member here is the first one left whose
		// `"name":` b holds at i.
		k := -1
		for next < len(writeOrder) {
			m := writeOrder[next]
			next++
			if bytes.HasPrefix(b[i:], memberKeys[m]) {
				k, i = m, skipSpace(b, i+len(memberKeys[m]))
				break
			}
		}
		var j int
		var ok bool
		switch k {
		case -1:
			return false
		case mFmt:
			e.Format, i, ok = plainInt(b, i)
		case mV:
			e.Version, i, ok = plainInt(b, i)
		case mTime:
			// time.Time decodes itself: the decoder hands it the same bytes.
			var v string
			if v, j, ok = plainValue(b, i); ok {
				ok = len(v) > 0 && e.Time.UnmarshalJSON(b[i:j]) == nil
				i = j
			}
		case mActor:
			var f [len(actorKeys)]string
			if i, ok = plainObject(b, i, actorKeys[:], f[:]); ok {
				e.Actor = Actor{Kind: f[0], ID: f[1], Name: f[2]}
			}
		case mVia:
			var f [len(viaKeys)]string
			if i, ok = plainObject(b, i, viaKeys[:], f[:]); ok {
				e.Via = Via{CredentialID: f[0], CredentialType: f[1], RemoteAddr: f[2], UserAgent: f[3], RequestID: f[4]}
			}
		case mData:
			if ok = i < len(b) && b[i] == '{'; ok {
				if j, ok = validValue(b, i, 0); ok {
					e.Data = b[i:j:j]
					i = j
				}
			}
		default:
			*stringMember(e, k), i, ok = plainValue(b, i)
		}
		if !ok {
			return false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return false
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return b[i] == '}' && skipSpace(b, i+1) == len(b)
	}
}

// stringMember is e's field of the string member k.
func stringMember(e *Envelope, k int) *string {
	switch k {
	case mID:
		return &e.ID
	case mType:
		return &e.Type
	case mKind:
		return &e.AggregateKind
	case mAggregate:
		return &e.AggregateID
	case mCommand:
		return &e.CommandID
	case mReason:
		return &e.Reason
	case mPrev:
		return &e.Prev
	case mHash:
		return &e.Hash
	case mKey:
		return &e.Key
	default: // mSig: the members left
		return &e.Sig
	}
}

// plainValue reads the JSON string at b[i] if it has no escape, no
// control character and is valid UTF-8: its contents as a string
// referring to b, and the index after it.
func plainValue(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	// Printable ASCII but '"' and '\\', 8 bytes at a time (as nextSpecial,
	// and a byte with its high bit set ends the run too).
	j := i + 1
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		if ((q-ones)&^q|(bs-ones)&^bs|(x-ones*0x20)&^x|x)&highs != 0 {
			break
		}
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	if j < len(b) && b[j] >= 0x80 {
		// Not ASCII: the plain string's contents must be valid UTF-8.
		in, end, ok := plainString(b, i)
		if !ok || !utf8.Valid(in) {
			return "", i, false
		}
		return unsafe.String(unsafe.SliceData(in), len(in)), end, true
	}
	if j >= len(b) || b[j] != '"' {
		return "", i, false
	}
	in := b[i+1 : j]
	return unsafe.String(unsafe.SliceData(in), len(in)), j + 1, true
}

// writeOrder is the order in which Marshal writes an envelope's members
// (Envelope's fields), and memberKeys each member's `"name":`; actorKeys
// and viaKeys are those of Actor's and Via's members, in their order.
var (
	actorKeys = [...][]byte{[]byte(`"kind":`), []byte(`"id":`), []byte(`"name":`)}
	viaKeys   = [...][]byte{[]byte(`"credentialId":`), []byte(`"credentialType":`), []byte(`"remoteAddr":`),
		[]byte(`"userAgent":`), []byte(`"requestId":`)}
	writeOrder = [...]int{mFmt, mID, mType, mV, mKind, mAggregate, mTime, mCommand, mActor, mVia, mReason, mData, mPrev, mHash, mKey, mSig}
	memberKeys = func() (keys [nMembers][]byte) {
		for k, n := range memberNames {
			keys[k] = []byte(`"` + n + `":`)
		}
		return keys
	}()
)

// plainInt reads the JSON number at b[i] if it is a non-negative integer
// in its shortest form below 10^15, and the index after it.
func plainInt(b []byte, i int) (int, int, bool) {
	n, j := 0, i
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		n = 10*n + int(b[j]-'0')
	}
	if d := j - i; d == 0 || d > 15 || (b[i] == '0' && d > 1) {
		return 0, i, false
	}
	return n, j, true
}

// plainObject reads the object at b[i] whose members are plain strings
// (plainValue) named by keys (each `"name":`), in that order, each at most
// once, into f (f[x] the member of keys[x]; "" when absent), and returns
// the index after it.
func plainObject(b []byte, i int, keys [][]byte, f []string) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	next := 0
	for {
		k := -1
		for next < len(keys) {
			x := next
			next++
			if bytes.HasPrefix(b[i:], keys[x]) {
				k, i = x, skipSpace(b, i+len(keys[x]))
				break
			}
		}
		if k < 0 {
			return i, false
		}
		var ok bool
		if f[k], i, ok = plainValue(b, i); !ok {
			return i, false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// maxValidDepth bounds the nesting validValue follows; deeper values are
// left to the decoder.
const maxValidDepth = 32

// validValue returns the end of the JSON value at b[i] (after any
// whitespace before it) if it is valid JSON (RFC 8259) nested at most
// maxValidDepth deep.
func validValue(b []byte, i, depth int) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) || depth > maxValidDepth {
		return i, false
	}
	switch c := b[i]; c {
	case '"':
		return validString(b, i)
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i, ok = validString(b, i); !ok {
					return i, false
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i++
			}
			if i, ok = validValue(b, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			switch {
			case i >= len(b):
				return i, false
			case b[i] == end:
				return i + 1, true
			case b[i] != ',':
				return i, false
			}
			i = skipSpace(b, i+1)
		}
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(b[i:], []byte(lit)) {
				return i + len(lit), true
			}
		}
		return i, false
	default:
		return validNumber(b, i)
	}
}

// validString returns the end of the JSON string at b[i] if its escapes
// are valid and it has no control character.
func validString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; ; {
		j = nextSpecial(b, j)
		switch {
		case j >= len(b) || b[j] < 0x20:
			return i, false
		case b[j] == '"':
			return j + 1, true
		}
		// A backslash.
		if j+1 >= len(b) {
			return i, false
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if j+6 > len(b) {
				return i, false
			}
			for _, h := range b[j+2 : j+6] {
				if !isHex(h) {
					return i, false
				}
			}
			j += 6
		default:
			return i, false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validNumber returns the end of the JSON number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j - k
	}
	start := j
	if n := digits(); n == 0 || (n > 1 && b[start] == '0') {
		return i, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return i, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return i, false
		}
	}
	return j, true
}

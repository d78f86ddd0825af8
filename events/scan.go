package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// StoredFields is what [Scanner.Scan] reads of a stored format-2 event
// without decoding it: the members the integrity checks need, as
// sub-slices of the stored bytes (each a plain JSON string's contents,
// which needs no unescaping), and the SHA-256 of its canonical bytes
// computed from the stored bytes.
type StoredFields struct {
	// The members of the same names; nil when absent.
	ID, Type, Kind, Aggregate, Prev, Hash, Key, Sig []byte
	// Sum is the SHA-256 of the event's canonical bytes: what
	// [Envelope.CheckHash] recomputes after [Unmarshal], here without
	// decoding or re-encoding the event.
	Sum [sha256.Size]byte
}

// Sealed reports whether the stored Hash member is the lower-case hex of
// Sum: the event's bytes match its hash.
func (f *StoredFields) Sealed() bool {
	if len(f.Hash) != 2*sha256.Size {
		return false
	}
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], f.Sum[:])
	return bytes.Equal(h[:], f.Hash)
}

// A Scanner reads stored events ([Scanner.Scan]) reusing its buffers. It
// is not safe for concurrent use; give each goroutine its own.
type Scanner struct {
	canon   []byte // the canonical bytes being built
	tmp     []byte // a value canonicalised on its own
	sorting []byte // an object's members as read, before they are sorted
	payload []byte // the payload's canonical form, when payloadOK
	// payloadOK says that members canonicalised the payload as it read it.
	payloadOK bool
}

// The top-level members of a stored envelope, in the order of their names
// under RFC 8785 (by UTF-16 code units; all are ASCII), the order of the
// canonical bytes. hash and sig are not hashed.
const (
	mActor = iota
	mAggregate
	mCommand
	mData
	mFmt
	mHash
	mID
	mKey
	mKind
	mPrev
	mReason
	mSig
	mTime
	mType
	mV
	mVia
	nMembers
)

var memberNames = [nMembers]string{"actor", "aggregate", "command", "data", "fmt", "hash", "id", "key", "kind", "prev", "reason", "sig", "time", "type", "v", "via"}

func memberIndex(name []byte) int {
	switch string(name) {
	case "actor":
		return mActor
	case "aggregate":
		return mAggregate
	case "command":
		return mCommand
	case "data":
		return mData
	case "fmt":
		return mFmt
	case "hash":
		return mHash
	case "id":
		return mID
	case "key":
		return mKey
	case "kind":
		return mKind
	case "prev":
		return mPrev
	case "reason":
		return mReason
	case "sig":
		return mSig
	case "time":
		return mTime
	case "type":
		return mType
	case "v":
		return mV
	case "via":
		return mVia
	}
	return -1
}

// span is a member's value in the stored bytes, [start, end).
type span struct{ start, end int }

// Scan reads data, the bytes of one stored event, into f. It returns false
// when data is not a format-2 envelope in the plain form the ledger writes
// (format 1, an unknown, duplicate or differently-cased member, a member
// of another JSON type, an escape in a member the integrity checks read,
// an empty omitempty member, bytes after the object, …): the caller then
// takes the decoding path ([Unmarshal] and [Envelope.CheckHash]), which
// judges such records. When it returns true, [Unmarshal] accepts data and
// decodes the same fields, and f.Sum is the SHA-256 of the bytes
// [Envelope.CheckHash] hashes (the tests hold Scan against the decoding
// path, golden files and fuzzing included). f's slices alias data.
func (s *Scanner) Scan(data []byte, f *StoredFields) bool {
	*f = StoredFields{}
	var m [nMembers]span
	var seen [nMembers]bool
	if !s.members(data, &m, &seen) {
		return false
	}
	// The members the checks read: plain strings (or absent).
	for _, x := range [...]struct {
		k   int
		dst *[]byte
	}{{mID, &f.ID}, {mType, &f.Type}, {mKind, &f.Kind}, {mAggregate, &f.Aggregate}, {mPrev, &f.Prev}, {mHash, &f.Hash}, {mKey, &f.Key}, {mSig, &f.Sig}} {
		if !seen[x.k] {
			continue
		}
		// members checked the quotes and that no control character is
		// inside: the contents are plain without a backslash.
		v := data[m[x.k].start:m[x.k].end]
		if len(v) < 2 || v[0] != '"' {
			return false
		}
		v = v[1 : len(v)-1]
		if bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) { // Unmarshal would unescape, or read U+FFFD
			return false
		}
		*x.dst = v
	}
	if len(f.Type) == 0 || len(f.Kind) == 0 || len(f.Aggregate) == 0 {
		return false // Unmarshal refuses the event
	}
	if !seen[mFmt] || string(data[m[mFmt].start:m[mFmt].end]) != "2" {
		return false
	}
	return s.canonical(data, &m, &seen, f)
}

// members reads the top-level object of a stored envelope: the span of
// each member's value. It refuses anything but an object of known,
// distinct, plainly written member names, with nothing after it. The
// payload is put in canonical form as it is read (payload, payloadOK)
// when canonValue takes it.
func (s *Scanner) members(data []byte, m *[nMembers]span, seen *[nMembers]bool) bool {
	s.payloadOK = false
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i >= len(data) || data[i] == '}' {
		return false
	}
	for {
		name, j, ok := plainString(data, i)
		if !ok {
			return false
		}
		k := memberIndex(name)
		if k < 0 || seen[k] {
			return false
		}
		seen[k] = true
		i = skipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		var end int
		if k == mData && i < len(data) && data[i] == '{' {
			s.payload, end, s.payloadOK = s.canonValue(s.payload[:0], data, i, 0)
		}
		if !s.payloadOK || k != mData {
			if end, ok = skipValue(data, i); !ok {
				return false
			}
		}
		m[k] = span{i, end}
		i = skipSpace(data, end)
		if i >= len(data) {
			return false
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if data[i] != '}' {
			return false
		}
		break
	}
	return skipSpace(data, i+1) == len(data)
}

// canonical builds the format-2 canonical bytes of the stored event from
// its members, validating each, and hashes them into f.Sum. It reports
// false for a member that is not valid JSON of its type, and for anything
// the decoding path could encode otherwise than it is stored: a required
// member absent (decoded as zero), an omitempty member present but empty
// (dropped on re-encoding), null, a time that does not re-encode to itself,
// a number other than a small non-negative integer.
func (s *Scanner) canonical(data []byte, m *[nMembers]span, seen *[nMembers]bool, f *StoredFields) bool {
	for _, k := range [...]int{mID, mType, mV, mKind, mAggregate, mTime, mActor, mVia, mData} {
		if !seen[k] {
			return false
		}
	}
	for _, k := range [...]int{mCommand, mReason, mPrev, mKey} {
		if seen[k] && m[k].end-m[k].start == 2 { // ""
			return false
		}
	}
	b := append(s.canon[:0], '{')
	first := true
	for k := range nMembers {
		if !seen[k] || k == mHash || k == mSig {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, memberNames[k]...)
		b = append(b, '"', ':')
		v := data[m[k].start:m[k].end]
		var ok bool
		switch k {
		case mActor:
			b, ok = s.object(b, v, actorMembers[:], 2)
		case mVia:
			b, ok = s.object(b, v, viaMembers[:], 0)
		case mData:
			if s.payloadOK {
				b, ok = append(b, s.payload...), true
			} else {
				b, ok = s.data(b, v)
			}
		case mFmt:
			b, ok = append(b, v...), true // "2", checked by Scan
		case mV:
			b, ok = appendSmallInt(b, v)
		case mTime:
			b, ok = appendTime(b, v)
		default:
			b, ok = s.appendString(b, v)
		}
		if !ok {
			s.canon = b
			return false
		}
	}
	b = append(b, '}')
	s.canon = b
	f.Sum = sha256.Sum256(b)
	return true
}

// The members of the actor and via objects, in RFC 8785 order; for actor,
// the first two (id, kind) are not omitempty.
var (
	actorMembers = [...]string{"id", "kind", "name"}
	viaMembers   = [...]string{"credentialId", "credentialType", "remoteAddr", "requestId", "userAgent"}
)

// object appends the canonical form of v, an object whose members are
// strings named in names (sorted), the first required of them present and
// the others omitempty (so not empty).
func (s *Scanner) object(b, v []byte, names []string, required int) ([]byte, bool) {
	var vals [8]span
	var seen [8]bool
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return b, false
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		i++
	} else {
		for {
			name, j, ok := plainString(v, i)
			if !ok {
				return b, false
			}
			k := -1
			for x, n := range names {
				if string(name) == n {
					k = x
					break
				}
			}
			if k < 0 || seen[k] {
				return b, false
			}
			seen[k] = true
			i = skipSpace(v, j)
			if i >= len(v) || v[i] != ':' {
				return b, false
			}
			i = skipSpace(v, i+1)
			end, ok := skipValue(v, i)
			if !ok || v[i] != '"' {
				return b, false
			}
			vals[k] = span{i, end}
			i = skipSpace(v, end)
			if i >= len(v) {
				return b, false
			}
			if v[i] == ',' {
				i = skipSpace(v, i+1)
				continue
			}
			if v[i] != '}' {
				return b, false
			}
			i++
			break
		}
	}
	if i != len(v) {
		return b, false
	}
	b = append(b, '{')
	first := true
	for k, n := range names {
		if !seen[k] {
			if k < required {
				return b, false
			}
			continue
		}
		if k >= required && vals[k].end-vals[k].start == 2 {
			return b, false // an empty omitempty member
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, n...)
		b = append(b, '"', ':')
		var ok bool
		if b, ok = s.appendString(b, v[vals[k].start:vals[k].end]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// data appends the canonical form of the payload object v: by canonValue
// when it holds only what payloads hold (ASCII member names, strings,
// small integers, literals, few members), else by jsontext.
func (s *Scanner) data(b, v []byte) ([]byte, bool) {
	if len(v) == 0 || v[0] != '{' {
		return b, false
	}
	if out, end, ok := s.canonValue(b, v, 0, 0); ok && skipSpace(v, end) == len(v) {
		return out, true
	}
	t := jsontext.Value(append(s.tmp[:0], v...))
	err := t.Canonicalize()
	s.tmp = t
	if err != nil {
		return b, false
	}
	return append(b, t...), true
}

// maxDepth and maxMembers bound what canonValue takes on: deeper values and
// objects with more members go to jsontext.
const (
	maxDepth   = 8
	maxMembers = 24
)

// canonValue appends the RFC 8785 form of the JSON value at v[i] and
// returns the index after it. It reports false (and jsontext decides) for
// anything outside the simple forms: a number that is not an integer
// below 10^15 in its shortest form, a member name with an escape or a
// non-ASCII byte (whose RFC 8785 order is by UTF-16 code units), a
// duplicate name, too deep or too many members.
func (s *Scanner) canonValue(b, v []byte, i, depth int) ([]byte, int, bool) {
	i = skipSpace(v, i)
	if i >= len(v) || depth > maxDepth {
		return b, i, false
	}
	switch c := v[i]; {
	case c == '"':
		end, ok := skipString(v, i)
		if !ok {
			return b, i, false
		}
		b, ok = s.appendString(b, v[i:end])
		return b, end, ok
	case c == '{':
		return s.canonObject(b, v, i, depth)
	case c == '[':
		b = append(b, '[')
		i = skipSpace(v, i+1)
		if i < len(v) && v[i] == ']' {
			return append(b, ']'), i + 1, true
		}
		for {
			var ok bool
			if b, i, ok = s.canonValue(b, v, i, depth+1); !ok {
				return b, i, false
			}
			i = skipSpace(v, i)
			if i >= len(v) {
				return b, i, false
			}
			switch v[i] {
			case ',':
				b = append(b, ',')
				i++
			case ']':
				return append(b, ']'), i + 1, true
			default:
				return b, i, false
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(v)-i >= len(lit) && string(v[i:i+len(lit)]) == lit {
				return append(b, lit...), i + len(lit), true
			}
		}
		return b, i, false
	default:
		j := i
		if v[j] == '-' {
			j++
		}
		k := j
		for k < len(v) && v[k] >= '0' && v[k] <= '9' {
			k++
		}
		digits := v[j:k]
		if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && (len(digits) > 1 || j > i)) {
			return b, i, false // also -0, which RFC 8785 writes 0
		}
		if k < len(v) {
			switch v[k] {
			case '.', 'e', 'E':
				return b, i, false
			}
		}
		return append(b, v[i:k]...), k, true
	}
}

// canonObject is canonValue of the object at v[i]: its members sorted by
// name. Each member is written as it is read (one pass over v), then the
// members are put in order.
func (s *Scanner) canonObject(b, v []byte, i, depth int) ([]byte, int, bool) {
	type member struct {
		name       []byte
		start, end int // `"name":value` in b
	}
	var ms [maxMembers]member
	var order [maxMembers]uint8
	n := 0
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return append(b, '{', '}'), i + 1, true
	}
	base := len(b)
	for {
		q := i
		name, j, ok := plainString(v, i)
		if !ok || n == maxMembers {
			return b, i, false
		}
		for _, c := range name {
			if c >= 0x80 {
				return b, i, false
			}
		}
		i = skipSpace(v, j)
		if i >= len(v) || v[i] != ':' {
			return b, i, false
		}
		start := len(b)
		b = append(b, v[q:j]...) // the name, quoted
		b = append(b, ':')
		if b, i, ok = s.canonValue(b, v, i+1, depth+1); !ok {
			return b, i, false
		}
		ms[n] = member{name: name, start: start - base, end: len(b) - base}
		// Insertion by name; a duplicate name is refused.
		k := n
		for k > 0 {
			c := bytes.Compare(ms[order[k-1]].name, name)
			if c == 0 {
				return b, i, false
			}
			if c < 0 {
				break
			}
			order[k] = order[k-1]
			k--
		}
		order[k] = uint8(n)
		n++
		i = skipSpace(v, i)
		if i >= len(v) {
			return b, i, false
		}
		if v[i] == ',' {
			i = skipSpace(v, i+1)
			continue
		}
		if v[i] != '}' {
			return b, i, false
		}
		i++
		break
	}
	written := append(s.sorting[:0], b[base:]...)
	s.sorting = written
	b = append(b[:base], '{')
	for k := range n {
		if k > 0 {
			b = append(b, ',')
		}
		m := ms[order[k]]
		b = append(b, written[m.start:m.end]...)
	}
	return append(b, '}'), i, true
}

// appendString appends the RFC 8785 form of the JSON string v (quoted).
func (s *Scanner) appendString(b, v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return b, false
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		// skipValue refused control characters; without escapes the
		// contents are their own minimal form if they are valid UTF-8.
		if !utf8.Valid(in) {
			return b, false
		}
		return append(b, v...), true
	}
	u, err := jsontext.AppendUnquote(s.tmp[:0], v)
	s.tmp = u
	if err != nil {
		return b, false
	}
	out, err := jsontext.AppendQuote(b, u)
	if err != nil {
		return b, false
	}
	return out, true
}

// appendSmallInt appends v, a JSON number, if it is a non-negative integer
// in its shortest form below 10^15 (so its RFC 8785 form is itself).
func appendSmallInt(b, v []byte) ([]byte, bool) {
	if len(v) == 0 || len(v) > 15 || (v[0] == '0' && len(v) > 1) {
		return b, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return b, false
		}
	}
	return append(b, v...), true
}

// appendTime appends v, a JSON string holding a time, if decoding it as a
// time.Time and encoding it again gives the same string (which the
// decoding path then hashes).
func appendTime(b, v []byte) ([]byte, bool) {
	if !plainUTC(v) {
		if _, ok := parseTime(v); !ok {
			return b, false
		}
	}
	return append(b, v...), true
}

// plainUTC reports whether v is a JSON string holding a UTC time exactly
// as Go's RFC 3339 encoding of a time.Time writes one, in years 1000 to
// 9999: "YYYY-MM-DDTHH:MM:SS[.F]Z", a valid date and time of day, F one to
// nine digits without a trailing zero. Such a string decodes and
// re-encodes to itself (what parseTime checks the long way, and decides
// for every other string).
func plainUTC(v []byte) bool {
	if len(v) < 22 || v[0] != '"' || v[len(v)-1] != '"' || v[len(v)-2] != 'Z' {
		return false
	}
	t := v[1 : len(v)-2] // without the quotes and the Z
	num := func(i, n int) int {
		x := 0
		for _, c := range t[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			x = 10*x + int(c-'0')
		}
		return x
	}
	if t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' {
		return false
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	if year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	if day > days {
		return false
	}
	switch frac := t[19:]; {
	case len(frac) == 0:
		return true
	case len(frac) < 2 || len(frac) > 10 || frac[0] != '.' || frac[len(frac)-1] == '0':
		return false
	default:
		return num(20, len(frac)-1) >= 0
	}
}

// parseTime decodes v, a JSON string holding a time, as time.Time does, if
// encoding the time again gives the same string.
func parseTime(v []byte) (time.Time, bool) {
	var t time.Time
	if len(v) < 2 || bytes.IndexByte(v, '\\') >= 0 {
		return t, false
	}
	if err := t.UnmarshalJSON(v); err != nil {
		return t, false
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return t, false
	}
	var buf [64]byte
	out := append(buf[:0], '"')
	out = t.AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	return t, bytes.Equal(out, v)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// plainString reads the JSON string at b[i] if it has no escape and no
// control character: its contents and the index after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	j := nextSpecial(b, i+1)
	if j >= len(b) || b[j] != '"' {
		return nil, i, false
	}
	return b[i+1 : j], j + 1, true
}

// skipString returns the index after the JSON string starting at b[i].
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; ; j++ {
		j = nextSpecial(b, j)
		if j >= len(b) || b[j] < 0x20 {
			return i, false
		}
		if b[j] == '"' {
			return j + 1, true
		}
		j++ // the escaped byte
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// nextSpecial returns the index of the first byte at or after j that ends
// or interrupts a plain string ('"', '\\' or a control character), or
// len(b). It tests 8 bytes at a time: a word without any is skipped whole.
func nextSpecial(b []byte, j int) int {
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		// A byte is zero in q or bs, or below 0x20 in x, exactly when its
		// high bit is set in one of these (the classic "has zero byte"
		// and "has byte less than n" tests).
		if ((q-ones)&^q|(bs-ones)&^bs|(x-ones*0x20)&^x)&highs != 0 {
			break
		}
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' || c < 0x20 {
			return j
		}
	}
	return j
}

// skipValue returns the end of the JSON value starting at b[i]. It only
// delimits the value: strings (without raw control characters) and the
// nesting of objects and arrays; whatever reads the value validates it.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, ok := skipString(b, i)
				if !ok {
					return i, false
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ':', ' ', '\t', '\n', '\r', '"', '{', '[':
			return j, j > i
		}
		j++
	}
	return j, j > i
}

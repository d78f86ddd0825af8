// Package snapenc is the compact binary encoding of the projections'
// snapshots: unsigned integers are uvarints, signed ones zig-zag varints,
// strings are interned (the first occurrence is written with its bytes,
// every later one as the index of the first), times are Unix nanoseconds
// (the zero time has its own marker; times are UTC in every projection).
//
// It is hand-written rather than encoding/gob (reflection, several times
// slower on a million tokens) or a schema library: the projections' state
// is a few flat records, the format is versioned by the snapshot file, and
// a reader over untrusted bytes must bound every length it reads, which
// [Reader] does (a truncated or corrupt input is an error, never a panic
// or an allocation larger than the input).
package snapenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("snapshot: corrupt")

// Writer accumulates an encoding. The zero value is ready to use.
type Writer struct {
	B       []byte
	strings map[string]uint64 // interned string → its index (first seen order)
}

// Uint appends v.
func (w *Writer) Uint(v uint64) { w.B = binary.AppendUvarint(w.B, v) }

// Int appends v, zig-zag encoded.
func (w *Writer) Int(v int64) { w.B = binary.AppendVarint(w.B, v) }

// Bool appends v as one byte.
func (w *Writer) Bool(v bool) {
	if v {
		w.B = append(w.B, 1)
	} else {
		w.B = append(w.B, 0)
	}
}

// Bytes appends b, length first.
func (w *Writer) Bytes(b []byte) {
	w.Uint(uint64(len(b)))
	w.B = append(w.B, b...)
}

// Raw appends b as it is (a fixed-size field: the reader knows its length).
func (w *Writer) Raw(b []byte) { w.B = append(w.B, b...) }

// Str appends s, interned: 0 and the bytes the first time, the index + 1
// of its first occurrence afterwards. The empty string is always 0, 0.
func (w *Writer) Str(s string) {
	if s == "" {
		w.B = append(w.B, 0, 0)
		return
	}
	if i, ok := w.strings[s]; ok {
		w.Uint(i + 1)
		return
	}
	if w.strings == nil {
		w.strings = map[string]uint64{}
	}
	w.strings[s] = uint64(len(w.strings))
	w.B = append(w.B, 0)
	w.Uint(uint64(len(s)))
	w.B = append(w.B, s...)
}

// Time appends t: 0 for the zero time, else 1 and its Unix nanoseconds
// (UTC), or 3, its Unix nanoseconds and its zone offset in seconds (a time
// decoded from an event with another offset keeps it). Times outside the
// int64 nanosecond range (years 1678–2262) are written as 2, seconds,
// nanoseconds and offset.
func (w *Writer) Time(t time.Time) {
	_, off := t.Zone()
	switch {
	case t.IsZero():
		w.B = append(w.B, 0)
	case t.Year() <= 1678 || t.Year() >= 2262:
		w.B = append(w.B, 2)
		w.Int(t.Unix())
		w.Uint(uint64(t.Nanosecond()))
		w.Int(int64(off))
	case t.Location() == time.UTC:
		w.B = append(w.B, 1)
		w.Int(t.UnixNano())
	default:
		w.B = append(w.B, 3)
		w.Int(t.UnixNano())
		w.Int(int64(off))
	}
}

// zone is the location of a time read back with offset off (seconds).
func zone(t time.Time, off int64) time.Time {
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(off)))
}

// Reader decodes what a Writer wrote. The first error sticks: every later
// read returns a zero value, and Err reports it.
type Reader struct {
	b       []byte
	err     error
	strings []string
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first decoding error, wrapping [ErrCorrupt].
func (r *Reader) Err() error { return r.err }

// Fail records err (the first one) as the reader's error.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

// Uint reads an unsigned integer.
func (r *Reader) Uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Fail("bad unsigned integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Count reads a number of items that are each at least min bytes long,
// and fails when the rest of the input cannot hold that many: a corrupt
// count never makes the caller allocate more than the input's size.
func (r *Reader) Count(min int) int {
	n := r.Uint()
	if r.err != nil {
		return 0
	}
	if min < 1 {
		min = 1
	}
	if n > uint64(len(r.b)/min) {
		r.Fail("count %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

// Int reads a signed integer.
func (r *Reader) Int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Fail("bad integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bool reads a boolean.
func (r *Reader) Bool() bool {
	b := r.Raw(1)
	if b == nil {
		return false
	}
	switch b[0] {
	case 0:
		return false
	case 1:
		return true
	}
	r.Fail("bad boolean %d", b[0])
	return false
}

// Raw reads the next n bytes (sharing the input's memory), nil on error.
func (r *Reader) Raw(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.Fail("%d bytes wanted, %d left", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// Bytes reads a length-prefixed byte string (sharing the input's memory).
func (r *Reader) Bytes() []byte {
	n := r.Uint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.Fail("%d bytes wanted, %d left", n, len(r.b))
		return nil
	}
	return r.Raw(int(n))
}

// Str reads an interned string. Equal strings read back share their
// memory (one allocation per distinct string).
func (r *Reader) Str() string {
	i := r.Uint()
	if r.err != nil {
		return ""
	}
	if i > 0 {
		if i > uint64(len(r.strings)) {
			r.Fail("string %d of %d", i, len(r.strings))
			return ""
		}
		return r.strings[i-1]
	}
	b := r.Bytes()
	if r.err != nil || len(b) == 0 {
		return ""
	}
	s := string(b)
	r.strings = append(r.strings, s)
	return s
}

// Time reads a time (in UTC or a fixed zone of the offset written).
func (r *Reader) Time() time.Time {
	b := r.Raw(1)
	if b == nil {
		return time.Time{}
	}
	switch b[0] {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, r.Int()).UTC()
	case 2:
		sec := r.Int()
		nsec := r.Uint()
		off := r.Int()
		if nsec >= 1e9 {
			r.Fail("bad nanoseconds %d", nsec)
			return time.Time{}
		}
		return zone(time.Unix(sec, int64(nsec)), off)
	case 3:
		ns := r.Int()
		return zone(time.Unix(0, ns), r.Int())
	}
	r.Fail("bad time marker %d", b[0])
	return time.Time{}
}

// End fails unless every byte was read.
func (r *Reader) End() error {
	if r.err == nil && len(r.b) != 0 {
		r.Fail("%d bytes after the end", len(r.b))
	}
	return r.err
}

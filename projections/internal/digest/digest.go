// Package digest is the unambiguous encoding the projections hash into
// their state digests: strings are length-prefixed, integers are uvarints,
// times are UTC RFC 3339 with nanoseconds (location and monotonic reading
// are not state). The encoding is deterministic but not a wire format.
package digest

import (
	"encoding/binary"
	"time"
)

// Buffer accumulates the encoding. The zero value is ready to use.
type Buffer struct{ B []byte }

// Uint appends v.
func (d *Buffer) Uint(v uint64) { d.B = binary.AppendUvarint(d.B, v) }

// Str appends v, length first.
func (d *Buffer) Str(v string) {
	d.Uint(uint64(len(v)))
	d.B = append(d.B, v...)
}

// Bool appends v as one byte.
func (d *Buffer) Bool(v bool) {
	if v {
		d.B = append(d.B, 1)
	} else {
		d.B = append(d.B, 0)
	}
}

// Time appends t in UTC.
func (d *Buffer) Time(t time.Time) { d.Str(t.UTC().Format(time.RFC3339Nano)) }

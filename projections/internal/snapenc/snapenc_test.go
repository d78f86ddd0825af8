package snapenc

import (
	"errors"
	"testing"
	"time"
)

// TestRoundTripKeepsValuesAndZones: what a Writer writes reads back equal,
// interned strings included, and times keep their instant and offset.
func TestRoundTripKeepsValuesAndZones(t *testing.T) {
	times := []time.Time{{}, time.Date(2026, 12, 5, 22, 0, 0, 7, time.UTC),
		time.Date(2027, 1, 2, 3, 4, 5, 6, time.FixedZone("", -5*3600)), time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))}
	var w Writer
	w.Uint(1 << 60)
	w.Int(-42)
	w.Str("development")
	w.Str("")
	w.Str("development")
	w.Bool(true)
	w.Bytes([]byte{1, 2, 3})
	for _, tm := range times {
		w.Time(tm)
	}
	r := NewReader(w.B)
	if r.Uint() != 1<<60 || r.Int() != -42 || r.Str() != "development" || r.Str() != "" || r.Str() != "development" || !r.Bool() {
		t.Fatal("scalars do not round-trip")
	}
	if b := r.Bytes(); len(b) != 3 || b[2] != 3 {
		t.Fatalf("bytes %v", b)
	}
	for _, want := range times {
		got := r.Time()
		_, go1 := got.Zone()
		_, wo := want.Zone()
		if !got.Equal(want) || go1 != wo || got.IsZero() != want.IsZero() {
			t.Fatalf("time %v read back as %v", want, got)
		}
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
}

// TestReaderBoundsCorruptLengths: a count or length beyond the input is
// an error wrapping ErrCorrupt, not an allocation or a panic.
func TestReaderBoundsCorruptLengths(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		read func(*Reader)
	}{
		{"huge_count", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, func(r *Reader) { r.Count(1) }},
		{"bytes_beyond_input", []byte{10, 1, 2}, func(r *Reader) { r.Bytes() }},
		{"string_reference_unknown", []byte{5}, func(r *Reader) { r.Str() }},
		{"bad_bool", []byte{2}, func(r *Reader) { r.Bool() }},
		{"bad_time_marker", []byte{9}, func(r *Reader) { r.Time() }},
		{"empty_uint", nil, func(r *Reader) { r.Uint() }},
		{"trailing_bytes", []byte{1, 1}, func(r *Reader) { r.Uint(); _ = r.End() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			tc.read(r)
			if err := r.End(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
		})
	}
}

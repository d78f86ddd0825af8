package events

import "testing"

// The replay's envelope decode (UnmarshalDeferred: the strings that only
// identify or seal an event refer to the stored bytes) beside the decode
// that copies every string (unmarshalEnvelope, as Unmarshal decodes), and
// the JSON decoder's part of it (by_the_decoder) beside the one-pass read
// of the plain form that takes the ledger's own records (plain_form):
//
//	go test -run '^$' -bench '^BenchmarkUnmarshalDeferred$' -benchmem ./events/
func BenchmarkUnmarshalDeferred(b *testing.B) {
	data := storedTokenEvent(b)
	b.Run("copies_every_string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unmarshalEnvelope(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deferred", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := UnmarshalDeferred(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by_the_decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Envelope
			if err := decodeDeferred(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain_form", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Envelope
			if !plainEnvelope(data, &e) {
				b.Fatal("not in the plain form")
			}
		}
	})
}

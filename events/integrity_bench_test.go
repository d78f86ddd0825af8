package events_test

import "testing"

// The per-event cost of the integrity checks:
//
//	go test -run '^$' -bench '^BenchmarkEventIntegrity$' -benchmem ./events/
func BenchmarkEventIntegrity(b *testing.B) {
	e := sampleEnvelope(b, samples[0])
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			_ = e.Seal()
		}
	})
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			_ = e.Sign(goldenKey)
		}
	})
	b.Run("check_hash", func(b *testing.B) {
		for b.Loop() {
			_ = e.CheckHash()
		}
	})
	b.Run("check_signature", func(b *testing.B) {
		for b.Loop() {
			_ = e.CheckSignature(goldenKey)
		}
	})
}

package events

import (
	"testing"
	"time"
)

// The replay's envelope decode (UnmarshalDeferred: the strings that only
// identify or seal an event refer to the stored bytes) beside the decode
// that copies every string (unmarshalEnvelope, as Unmarshal decodes):
//
//	go test -run '^$' -bench '^BenchmarkUnmarshalDeferred$' -benchmem ./events/
func BenchmarkUnmarshalDeferred(b *testing.B) {
	e, err := New("01J0000000000000000000000X", "0d6b1b8e-4c1f-4b7e-9a43-2f7e0e9c5a11",
		TokenRevoked{Reason: ReasonDeleted}, time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	e.CommandID = "2b7e0e9c-5a11-4c1f-9a43-0d6b1b8e4b7e"
	e.Actor = Actor{Kind: ActorUser, ID: "5a110d6b-1b8e-4c1f-4b7e-9a432f7e0e9c", Name: "ada@example.com"}
	e.Via = Via{CredentialID: "9a432f7e-0e9c-5a11-0d6b-1b8e4c1f4b7e", CredentialType: TokenAdmin,
		RemoteAddr: "127.0.0.1:51234", UserAgent: "curl/8.5.0", RequestID: "01J00000000000000000000RQ1"}
	e.Prev = "3f1c0e7a9b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"
	if err := e.Seal(); err != nil {
		b.Fatal(err)
	}
	data, err := Marshal(&e)
	if err != nil {
		b.Fatal(err)
	}
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
}

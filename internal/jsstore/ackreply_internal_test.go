package jsstore

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/natstest"
)

// A replay reads each message's stream sequence and pending count from
// its reply subject itself; it must read what jetstream.Msg.Metadata
// reads, in both forms of the subject, and refuse what Metadata refuses
// (the handler then asks Metadata, which reports the error).
func TestAckPositionReadsWhatMetadataReads(t *testing.T) {
	cases := []struct {
		name         string
		reply        string
		seq, pending uint64
		ok           bool
	}{
		{"nine tokens", "$JS.ACK.LEDGER.c1.1.42.7.1733400000000000000.5", 42, 5, true},
		{"eleven tokens", "$JS.ACK._.ACCHASH.LEDGER.c1.1.42.7.1733400000000000000.0", 42, 0, true},
		{"twelve tokens", "$JS.ACK.dom.ACCHASH.LEDGER.c1.1.42.7.1733400000000000000.9.rnd", 42, 9, true},
		{"more tokens", "$JS.ACK.dom.ACCHASH.LEDGER.c1.1.42.7.1733400000000000000.9.rnd.x", 42, 9, true},
		{"largest sequence", "$JS.ACK.S.c.1.18446744073709551615.1.1.0", 1<<64 - 1, 0, true},
		{"sequence past 64 bits", "$JS.ACK.S.c.1.18446744073709551616.1.1.0", 0, 0, false},
		{"ten tokens", "$JS.ACK.x.S.c.1.42.7.1.0", 0, 0, false},
		{"eight tokens", "$JS.ACK.S.c.1.42.7.1", 0, 0, false},
		{"not an ack subject", "_INBOX.S.c.1.42.7.1.0.0", 0, 0, false},
		{"empty sequence", "$JS.ACK.S.c.1..7.1.0", 0, 0, false},
		{"sign in a number", "$JS.ACK.S.c.1.+42.7.1.0", 0, 0, false},
		{"letters in pending", "$JS.ACK.S.c.1.42.7.1.5x", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq, pending, ok := ackPosition(c.reply)
			if seq != c.seq || pending != c.pending || ok != c.ok {
				t.Fatalf("ackPosition(%q) = %d, %d, %v; want %d, %d, %v", c.reply, seq, pending, ok, c.seq, c.pending, c.ok)
			}
		})
	}

	// The subjects a real server sends to an ordered consumer.
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ACKS", Subjects: []string{"acks.>"}}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if _, err := js.Publish(ctx, "acks.x", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.OrderedConsumer(ctx, "ACKS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		seq, pending, ok := ackPosition(msg.Reply())
		if !ok || seq != md.Sequence.Stream || pending != md.NumPending {
			t.Fatalf("ackPosition(%q) = %d, %d, %v; Metadata says %d, %d", msg.Reply(), seq, pending, ok, md.Sequence.Stream, md.NumPending)
		}
		got++
	}
	if got != n {
		t.Fatalf("read %d messages of %d (%v)", got, n, batch.Error())
	}
}

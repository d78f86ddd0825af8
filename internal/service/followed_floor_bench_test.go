package service_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkRawPublishFollowed16 measures what following the stream costs
// the raw publishes of BenchmarkCreateConcurrency16, the part of that
// benchmark's gap no code of the ledger's write path can close: the
// ledger's projections follow LEDGER with an ordered pull consumer, and
// nats-server's consumer loads each message as it is stored, taking the
// file store's lock between the synchronous writes. "followed" is 16
// writers publishing messages of a create's size (with the ledger's
// Nats-Expected-Stream and Nats-Msg-Id headers) into a LEDGER stream that
// one ordered consumer follows as the ledger's does (pulls of 4,096
// messages or 2 MiB, handler doing nothing); "raw" the same into a second
// server's stream that nobody follows. Same configuration (file store,
// sync always), alternating in 10 slices:
//
//	go test -run '^$' -bench '^BenchmarkRawPublishFollowed16$' -benchtime 2000x ./internal/service/
func BenchmarkRawPublishFollowed16(b *testing.B) {
	followed, alone := rawJetStream(b), rawJetStream(b)
	ctx := context.Background()
	cons, err := followed.OrderedConsumer(ctx, "LEDGER", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(jetstream.Msg) {}, jetstream.PullMaxMessagesWithBytesLimit(4096, 2<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cc.Stop)
	payload := make([]byte, 933) // a stored token.created event's size
	publisher := func(name string, js jetstream.JetStream) *side {
		return &side{name: name, op: func(_, i int) error {
			id := name + "-" + strconv.Itoa(i)
			m := &nats.Msg{Subject: "ledger.token." + id + ".created", Data: payload, Header: nats.Header{}}
			m.Header.Set(jetstream.ExpectedStreamHeader, "LEDGER")
			m.Header.Set(jetstream.MsgIDHeader, "cmd-"+id+"/0")
			_, err := js.PublishMsg(ctx, m)
			return err
		}}
	}
	compare(b, publisher("followed", followed), publisher("raw", alone))
}

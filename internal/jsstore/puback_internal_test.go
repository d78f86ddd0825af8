package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// TestPubAckParserReadsEveryAnswerShape: the hand parser of publish
// acknowledgements reads the server's plain and duplicate acks (with and
// without a domain) and hands everything else to encoding/json, which
// turns an error answer into the library's *jetstream.APIError and a
// non-acknowledgement into jetstream.ErrInvalidJSAck.
func TestPubAckParserReadsEveryAnswerShape(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    pubAck
		plain   bool                // read by hand
		errCode jetstream.ErrorCode // an API error with this code
		invalid bool                // jetstream.ErrInvalidJSAck
	}{
		{name: "plain", data: `{"stream":"LEDGER","seq":42}`, want: pubAck{Stream: "LEDGER", Sequence: 42}, plain: true},
		{name: "domain", data: `{"stream":"LEDGER","domain":"hub","seq":7}`, want: pubAck{Stream: "LEDGER", Sequence: 7}, plain: true},
		{name: "duplicate", data: `{"stream":"LEDGER","seq":9,"duplicate": true}`, want: pubAck{Stream: "LEDGER", Sequence: 9, Duplicate: true}, plain: true},
		{name: "duplicate unspaced", data: `{"stream":"LEDGER","seq":9,"duplicate":true}`, want: pubAck{Stream: "LEDGER", Sequence: 9, Duplicate: true}, plain: true},
		{name: "duplicate with domain", data: `{"stream":"LEDGER","domain":"hub","seq":3,"duplicate": true}`, want: pubAck{Stream: "LEDGER", Sequence: 3, Duplicate: true}, plain: true},
		{name: "largest sequence", data: `{"stream":"LEDGER","seq":18446744073709551615}`, want: pubAck{Stream: "LEDGER", Sequence: 1<<64 - 1}, plain: true},
		{name: "batch fields", data: `{"stream":"LEDGER","seq":12,"batch":"b1","count":3}`, want: pubAck{Stream: "LEDGER", Sequence: 12}},
		{name: "duplicate false", data: `{"stream":"LEDGER","seq":5,"duplicate":false}`, want: pubAck{Stream: "LEDGER", Sequence: 5}},
		{name: "another spacing", data: `{ "stream": "LEDGER", "seq": 8 }`, want: pubAck{Stream: "LEDGER", Sequence: 8}},
		{name: "another stream", data: `{"stream":"OTHER","seq":8}`, want: pubAck{Stream: "OTHER", Sequence: 8}},
		{name: "escaped domain", data: `{"stream":"LEDGER","domain":"a\"b","seq":4}`, want: pubAck{Stream: "LEDGER", Sequence: 4}},
		{name: "wrong last sequence", data: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}}`, errCode: codeWrongLastSequence},
		{name: "stream sealed", data: `{"error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"}}`, errCode: codeStreamSealed},
		{name: "sequence past 64 bits", data: `{"stream":"LEDGER","seq":18446744073709551616}`, invalid: true},
		{name: "no stream", data: `{"seq":3}`, invalid: true},
		{name: "empty", data: ``, invalid: true},
		{name: "not json", data: `+OK`, invalid: true},
		{name: "cut short", data: `{"stream":"LEDGER","seq":4`, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, plain := parsePlainAck([]byte(tt.data), "LEDGER")
			if plain != tt.plain {
				t.Errorf("read by hand: %v, want %v", plain, tt.plain)
			}
			got, err := parsePubAck([]byte(tt.data), "LEDGER")
			var apiErr *jetstream.APIError
			switch {
			case tt.errCode != 0:
				if !errors.As(err, &apiErr) || apiErr.ErrorCode != tt.errCode {
					t.Fatalf("got %+v, %v; want API error %d", got, err, tt.errCode)
				}
			case tt.invalid:
				if !errors.Is(err, jetstream.ErrInvalidJSAck) {
					t.Fatalf("got %+v, %v; want ErrInvalidJSAck", got, err)
				}
			case err != nil || got != tt.want:
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestPublishOneAnswersLikeTheClientLibrary: every answer a real server
// gives a single append, read by publishOne, reaches the store's error
// contract as the client library's PublishMsg did: a first append and its
// duplicate (same msg id, the first sequence), a wrong last sequence (a
// conflict), a subject no stream captures (no responders: unavailable), a
// responder that never answers (a timeout: outcome unknown).
func TestPublishOneAnswersLikeTheClientLibrary(t *testing.T) {
	ctx, nc, s := openOnNewServer(t, 30*time.Second)
	if _, err := nc.SubscribeSync("silent.x"); err != nil { // takes requests and never answers
		t.Fatal(err)
	}
	msg := func(subject, msgID string, expected uint64) *nats.Msg {
		h := nats.Header{}
		h.Set(jetstream.ExpectedStreamHeader, s.name)
		if msgID != "" {
			h.Set(jetstream.MsgIDHeader, msgID)
		}
		h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expected, 10))
		h.Set(jetstream.ExpectedLastSubjSeqSubjHeader, "ledger.token.a.*")
		return &nats.Msg{Subject: subject, Header: h, Data: []byte(`{}`)}
	}
	tests := []struct {
		name    string
		msg     *nats.Msg
		timeout time.Duration
		want    pubAck
		is      error // the store's error after failed (nil: success)
	}{
		{name: "first", msg: msg("ledger.token.a.created", "m1", 0), want: pubAck{Stream: "LEDGER", Sequence: 1}},
		{name: "duplicate", msg: msg("ledger.token.a.created", "m1", 1), want: pubAck{Stream: "LEDGER", Sequence: 1, Duplicate: true}},
		{name: "wrong last sequence", msg: msg("ledger.token.a.updated", "m2", 0), is: commands.ErrConflict},
		{name: "no responders", msg: msg("nowhere.x", "m3", 0), is: commands.ErrUnavailable},
		{name: "timeout", msg: msg("silent.x", "m4", 0), timeout: 300 * time.Millisecond, is: commands.ErrOutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pctx := ctx
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				pctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			got, err := s.publishOne(pctx, tt.msg)
			if tt.is == nil {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", got)
			}
			batch := []commands.Append{{MsgID: tt.msg.Header.Get(jetstream.MsgIDHeader)}}
			batch[0].Event.AggregateKind, batch[0].Event.AggregateID = "token", "a"
			if _, ferr := s.failed(ctx, batch, err); !errors.Is(ferr, tt.is) {
				t.Fatalf("publish error %v became %v, want %v", err, ferr, tt.is)
			}
		})
	}
}

// openOnNewServer starts a server, connects to it and opens a Store on
// the connection, all closed when t ends; ctx ends after within.
func openOnNewServer(t *testing.T, within time.Duration) (context.Context, *nats.Conn, *Store) {
	t.Helper()
	nc := natstest.Connect(t, natstest.RunServer(t))
	ctx, cancel := context.WithTimeout(context.Background(), within)
	t.Cleanup(cancel)
	s, err := Open(ctx, nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return ctx, nc, s
}

// BenchmarkPubAckParse: the hand parser beside encoding/json on the
// server's plain acknowledgement.
func BenchmarkPubAckParse(b *testing.B) {
	data := []byte(`{"stream":"LEDGER","seq":1234567}`)
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parsePubAck(data, "LEDGER"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var resp struct {
				pubAck
				Error *jetstream.APIError `json:"error,omitempty"`
			}
			if err := json.Unmarshal(data, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

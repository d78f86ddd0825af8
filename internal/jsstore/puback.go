package jsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishOne publishes one message to the stream and reads its
// acknowledgement: what [jetstream.JetStream.PublishMsg] does, with the
// same errors (a no-responders answer retried twice after 250 ms, then
// [jetstream.ErrNoStreamResponse]; an API error as a wrapped
// *[jetstream.APIError]; an answer that is no acknowledgement
// [jetstream.ErrInvalidJSAck]), but the acknowledgement, a few dozen bytes
// the server formats from one template, is read by parsePubAck instead of
// encoding/json: its reflection-driven decoding cost a create about as much
// as the rest of the publish (issue 16's profile).
func (s *Store) publishOne(ctx context.Context, m *nats.Msg) (pubAck, error) {
	resp, err := s.nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < jetstream.DefaultPubRetryAttempts; r++ {
		// A stream moving to another server, or starting, has no
		// responder for a moment: the client library waits too.
		t := time.NewTimer(jetstream.DefaultPubRetryWait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		resp, err = s.nc.RequestMsgWithContext(ctx, m)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return pubAck{}, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return pubAck{}, err
	}
	return parsePubAck(resp.Data, s.name)
}

// pubAck is what an append needs of a JetStream publish acknowledgement.
type pubAck struct {
	Stream    string `json:"stream"`
	Sequence  uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// parsePubAck reads a publish acknowledgement of stream. The server writes
// a plain one from a template, {"stream":"<stream>",["domain":"<d>",]"seq":<n>}
// with ,"duplicate": true before the brace for a duplicate msg id; those
// are read by hand. Anything else (an error, an atomic batch's or a
// counter's fields, another spacing) is decoded with encoding/json, as
// the client library does: an error answer becomes a *jetstream.APIError
// wrapped like the library's ("nats: …"), an answer without a stream
// jetstream.ErrInvalidJSAck.
func parsePubAck(data []byte, stream string) (pubAck, error) {
	if ack, ok := parsePlainAck(data, stream); ok {
		return ack, nil
	}
	var resp struct {
		pubAck
		Error *jetstream.APIError `json:"error,omitempty"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	if resp.Error != nil {
		return pubAck{}, fmt.Errorf("nats: %w", resp.Error)
	}
	if resp.Stream == "" {
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	return resp.pubAck, nil
}

// parsePlainAck reads the server's plain acknowledgement of stream (see
// parsePubAck); ok is false for any other text.
func parsePlainAck(data []byte, stream string) (pubAck, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"stream":"`))
	if !ok {
		return pubAck{}, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(stream)); !ok {
		return pubAck{}, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`",`)); !ok {
		return pubAck{}, false
	}
	if after, ok := bytes.CutPrefix(rest, []byte(`"domain":"`)); ok {
		// A domain is a name without quotes or escapes.
		i := bytes.IndexByte(after, '"')
		if i < 0 || bytes.IndexByte(after[:i], '\\') >= 0 {
			return pubAck{}, false
		}
		if rest, ok = bytes.CutPrefix(after[i+1:], []byte(`,`)); !ok {
			return pubAck{}, false
		}
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`"seq":`)); !ok {
		return pubAck{}, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	seq, ok := decimal(string(rest[:n])) // no allocation: the conversion does not escape
	if !ok {
		return pubAck{}, false
	}
	ack := pubAck{Stream: stream, Sequence: seq}
	switch string(rest[n:]) {
	case `}`:
	case `,"duplicate": true}`, `,"duplicate":true}`:
		ack.Duplicate = true
	default:
		return pubAck{}, false
	}
	return ack, true
}

package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed/directget"
)

// Reading events back by sequence, for the audit trail's pages and
// exports (projections/auditlog.Reader).

const (
	// spanGap: sequences at most this far apart are read in one span (the
	// events between are read and dropped) rather than by two requests.
	spanGap = 8
	// spanMax is the most events one span (one Direct Get batch) asks for.
	spanMax = 256
	// inFlight is the most Direct Get requests one Events call has out at
	// once.
	inFlight = 32
)

// span is one Direct Get batch: the events from..to.
type span struct {
	from, to uint64
}

// Events returns the stored events at seqs (ascending and distinct), in
// that order, each with its Sequence set; a sequence with no stored event
// is an error. It reads with Direct Get batch requests, one per run of
// near sequences, up to 32 of them in flight at once, so that a page of
// scattered events costs about one round trip and an export reads whole
// runs. It implements the audit log's Reader.
func (s *Store) Events(ctx context.Context, seqs []uint64) ([]events.Envelope, error) {
	out := make([]events.Envelope, 0, len(seqs))
	err := s.EventBytes(ctx, seqs, func(seq uint64, data []byte) error {
		env, err := events.Unmarshal(data)
		if err != nil {
			return fmt.Errorf("jsstore: read events: event at sequence %d: %w", seq, err)
		}
		env.Sequence = seq
		out = append(out, env)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rawEvent is one stored event as Direct Get answered it.
type rawEvent struct {
	seq  uint64
	data []byte
}

// EventBytes calls fn with the stored bytes of the events at seqs
// (ascending and distinct), in that order, without decoding them: an
// export writes them as they are. A sequence with no stored event is an
// error. It reads as [Store.Events] does, and implements the audit log's
// RawReader.
func (s *Store) EventBytes(ctx context.Context, seqs []uint64, fn func(seq uint64, data []byte) error) error {
	if len(seqs) == 0 {
		return nil
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			return fmt.Errorf("jsstore: read events: sequences not ascending at %d", seqs[i])
		}
	}
	if seqs[0] == 0 {
		return errors.New("jsstore: read events: sequence 0")
	}
	var spans []span
	for _, q := range seqs {
		if n := len(spans); n > 0 && q-spans[n-1].to <= spanGap && q-spans[n-1].from < spanMax {
			spans[n-1].to = q
			continue
		}
		spans = append(spans, span{q, q})
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.js.Options().DefaultTimeout)
		defer cancel()
	}
	got := make(map[uint64][]byte, len(seqs))
	for len(spans) > 0 {
		n := min(len(spans), inFlight)
		evs, rest, err := s.readSpans(ctx, spans[:n])
		if err != nil {
			return err
		}
		for _, e := range evs {
			got[e.seq] = e.data
		}
		spans = append(rest, spans[n:]...)
	}
	for _, q := range seqs {
		data, ok := got[q]
		if !ok {
			return fmt.Errorf("jsstore: read events: no stored event at sequence %d", q)
		}
		if err := fn(q, data); err != nil {
			return err
		}
	}
	return nil
}

// readSpans sends one Direct Get batch per span at once and gathers the
// answers: the events, ascending, and the spans (or their remainders) a
// size-limited answer cut short, to be asked again.
func (s *Store) readSpans(ctx context.Context, spans []span) ([]rawEvent, []span, error) {
	nc := s.js.Conn()
	prefix := s.js.Options().APIPrefix
	if prefix == "" {
		prefix = "$JS.API."
	}
	inbox := nc.NewInbox()
	total := 0
	for _, sp := range spans {
		total += int(sp.to-sp.from) + 2
	}
	replies := make(chan *nats.Msg, total)
	sub, err := nc.ChanSubscribe(inbox+".*", replies)
	if err != nil {
		return nil, nil, fmt.Errorf("jsstore: read events: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for i, sp := range spans {
		req, err := json.Marshal(struct {
			Batch    int    `json:"batch"`
			MaxBytes int    `json:"max_bytes"`
			Seq      uint64 `json:"seq"`
		}{int(sp.to-sp.from) + 1, directget.MaxBytes, sp.from})
		if err != nil {
			return nil, nil, err
		}
		if err := nc.PublishRequest(prefix+"DIRECT.GET."+s.name, inbox+"."+strconv.Itoa(i), req); err != nil {
			return nil, nil, fmt.Errorf("jsstore: read events: %w", err)
		}
	}
	per := make([][]rawEvent, len(spans))
	open := len(spans)
	for open > 0 {
		var m *nats.Msg
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("jsstore: read events: no complete answer from stream %s: %w", s.name, ctx.Err())
		case m = <-replies:
		}
		i, err := strconv.Atoi(m.Subject[len(inbox)+1:])
		if err != nil || i < 0 || i >= len(spans) {
			continue
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch status := m.Header.Get("Status"); status {
			case "204", "404": // end of batch; nothing at or after the span's start
				open--
				continue
			default:
				return nil, nil, fmt.Errorf("jsstore: read events: direct get: status %s %s", status, m.Header.Get("Description"))
			}
		}
		raw, err := directget.BatchAnswer(m)
		if err != nil {
			return nil, nil, fmt.Errorf("jsstore: read events: %w", err)
		}
		if raw.Sequence > spans[i].to {
			continue // a gap in the stream: the batch went past the span
		}
		per[i] = append(per[i], rawEvent{seq: raw.Sequence, data: raw.Data})
	}
	var out []rawEvent
	var rest []span
	for i, sp := range spans {
		evs := per[i]
		out = append(out, evs...)
		last := sp.from - 1
		if n := len(evs); n > 0 {
			last = evs[n-1].seq
		}
		if last < sp.to && len(evs) > 0 && s.cutShort(len(evs), sp) {
			rest = append(rest, span{last + 1, sp.to})
		}
	}
	return out, rest, nil
}

// cutShort reports whether a batch answer of n events for sp may have been
// cut by its byte limit rather than by the end of the stream: it is then
// asked again from after its last event. (A batch that met a gap is also
// asked again; the second answer settles it.)
func (s *Store) cutShort(n int, sp span) bool {
	return uint64(n) < sp.to-sp.from+1
}

// Aggregate returns every stored event of aggregate id, ascending by
// sequence; kind "" means any kind. An id or kind that cannot be a subject
// token has no events. It implements the audit log's Reader.
func (s *Store) Aggregate(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	if checkToken("aggregate id", id) != nil || (kind != "" && checkToken("aggregate kind", kind) != nil) {
		return []events.Envelope{}, nil
	}
	if kind == "" {
		kind = "*"
	}
	filter := events.AggregateFilter(kind, id)
	evs := []events.Envelope{}
	err := s.scan(ctx, filter, 1, func(m *jetstream.RawStreamMsg) error {
		env, err := events.Unmarshal(m.Data)
		if err != nil {
			return fmt.Errorf("jsstore: read %s: event at sequence %d (%s): %w", filter, m.Sequence, m.Subject, err)
		}
		env.Sequence = m.Sequence
		evs = append(evs, env)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return evs, nil
}

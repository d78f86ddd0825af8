// Package directget reads a JetStream stream with Direct Get batch
// requests (no consumer): the ledger's own loads (internal/jsstore) and
// the readers' feed follower (projections/feed) share it.
package directget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxBytes caps one batch's answer, far below the embedded server's
// max_pending: the server closes a connection for which it holds more.
const MaxBytes = 1 << 20

// NumPendingHeader is set by the server on every message of a Direct Get
// batch: how many matching messages remain after this one.
const NumPendingHeader = "Nats-Num-Pending"

// ErrNoMessages is returned by [Batch] when nothing matches from the
// requested sequence on.
var ErrNoMessages = errors.New("no messages")

// ErrOutOfSequence is returned (wrapped) by [Batch] for an answer that is
// not the one the server gives next: a sequence before the one asked
// for, not after the previous answer's, or (without a filter) not the
// very next one. Whoever can publish on the reply inbox (another
// connection of the same user) could otherwise make a caller skip
// events; an error makes it ask again.
var ErrOutOfSequence = errors.New("direct get: answer out of sequence")

// Batch asks stream for up to n messages matching filter ("" for all)
// from sequence from, in one Direct Get batch request on nc (API prefix
// ending in a dot, e.g. "$JS.API."), and returns them in order: at least
// one, or ErrNoMessages. Without a filter the stream must have no deleted
// messages (the ledger's and the feed's deny deletes and purges): the
// answers are from, from+1, … and anything else is [ErrOutOfSequence];
// with one they must increase from from. ctx must have a deadline. It does what
// jetstreamext.GetBatch does, with a reply subscription sized to the
// batch (that one buffers 65,536 messages per call), and it reports an
// answer cut short by ctx as an error, never as a complete batch.
func Batch(ctx context.Context, nc *nats.Conn, prefix, stream, filter string, from uint64, n int) ([]*jetstream.RawStreamMsg, error) {
	inbox := nc.NewInbox()
	replies := make(chan *nats.Msg, n+2) // n messages and the end-of-batch marker
	sub, err := nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, err := json.Marshal(struct {
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
		Seq      uint64 `json:"seq"`
		Subj     string `json:"next_by_subj,omitempty"`
	}{n, MaxBytes, from, filter})
	if err != nil {
		return nil, err
	}
	if err := nc.PublishRequest(prefix+"DIRECT.GET."+stream, inbox, req); err != nil {
		return nil, err
	}
	var out []*jetstream.RawStreamMsg
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no complete answer from stream %s: %w", stream, ctx.Err())
		case m := <-replies:
			if isControl(m) {
				switch status := m.Header.Get("Status"); status {
				case "204": // end of batch
					if len(out) == 0 {
						return nil, ErrNoMessages
					}
					return out, nil
				case "404":
					return nil, ErrNoMessages
				case "503": // no server answers for the stream (leader lost, election)
					return nil, fmt.Errorf("direct get from stream %s: %w", stream, nats.ErrNoResponders)
				default:
					return nil, fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description"))
				}
			}
			raw, err := BatchAnswer(m)
			if err != nil {
				return nil, err
			}
			if err := inSequence(raw.Sequence, out, from, filter == ""); err != nil {
				return nil, fmt.Errorf("stream %s from %d: %w", stream, from, err)
			}
			out = append(out, raw)
		}
	}
}

// inSequence checks that seq can follow out, the answers so far to a
// batch from from (contiguous: no filter).
func inSequence(seq uint64, out []*jetstream.RawStreamMsg, from uint64, contiguous bool) error {
	want, after := max(from, 1), uint64(0)
	if len(out) > 0 {
		after = out[len(out)-1].Sequence
		want = after + 1
	}
	switch {
	case contiguous && seq != want:
		return fmt.Errorf("%w: sequence %d where %d comes next", ErrOutOfSequence, seq, want)
	case seq < want:
		return fmt.Errorf("%w: sequence %d after %d (from %d)", ErrOutOfSequence, seq, after, from)
	}
	return nil
}

// One sends a single Direct Get request req (a JSON request such as
// {"last_by_subj": ">"} or {"start_time": …}) to stream and returns the
// message, or ErrNoMessages when none matches.
func One(ctx context.Context, nc *nats.Conn, prefix, stream string, req any) (*jetstream.RawStreamMsg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	m, err := nc.RequestWithContext(ctx, prefix+"DIRECT.GET."+stream, body)
	if err != nil {
		return nil, err
	}
	if isControl(m) {
		switch m.Header.Get("Status") {
		case "404":
			return nil, ErrNoMessages
		case "503":
			return nil, fmt.Errorf("direct get from stream %s: %w", stream, nats.ErrNoResponders)
		}
		return nil, fmt.Errorf("direct get: status %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
	}
	return parse(m)
}

// BatchAnswer reads one answer of a Direct Get batch (its headers; the
// data is the stored message's).
func BatchAnswer(m *nats.Msg) (*jetstream.RawStreamMsg, error) {
	if m.Header.Get(NumPendingHeader) == "" {
		return nil, errors.New("the server does not support Direct Get batches (needs nats-server 2.11 or newer)")
	}
	return parse(m)
}

// parse reads a Direct Get answer's headers.
func parse(m *nats.Msg) (*jetstream.RawStreamMsg, error) {
	seq, err := strconv.ParseUint(serverHeader(m, jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("direct get: bad %s header: %w", jetstream.SequenceHeader, err)
	}
	subj := serverHeader(m, jetstream.SubjectHeader)
	if subj == "" {
		return nil, fmt.Errorf("direct get: no %s header at sequence %d", jetstream.SubjectHeader, seq)
	}
	tm, err := time.Parse(time.RFC3339Nano, serverHeader(m, jetstream.TimeStampHeaer))
	if err != nil {
		return nil, fmt.Errorf("direct get: bad time stamp at sequence %d: %w", seq, err)
	}
	return &jetstream.RawStreamMsg{Subject: subj, Sequence: seq, Header: m.Header, Data: m.Data, Time: tm}, nil
}

// isControl reports whether m is the server's own answer (no message, end
// of batch, no responders) rather than a stored message. Both can carry a
// Status: the server's in its status line, a stored message as a header
// its publisher set (nats.go files both under "Status"), so the status
// alone proves nothing. A stored message always comes with the
// Nats-Sequence the server appends; a control answer never does.
func isControl(m *nats.Msg) bool {
	return m.Header.Get("Status") != "" && len(m.Header.Values(jetstream.SequenceHeader)) == 0
}

// serverHeader is the value the server appended for header key: the last
// one (a stored message may carry a header of the same name, which comes
// first).
func serverHeader(m *nats.Msg, key string) string {
	v := m.Header.Values(key)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// Pending is the number of messages the server says remain after a batch
// answer m (its last Nats-Num-Pending: a stored header of that name comes
// first and proves nothing).
func Pending(m *jetstream.RawStreamMsg) string {
	v := m.Header.Values(NumPendingHeader)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections/feed/directget"
)

// StoredRecords describes a data dir's LEDGER stream as ReadDataDir found
// it.
type StoredRecords struct {
	// LastSeq is the stream's last sequence as its store reports it.
	LastSeq uint64
	// KeyFile and KeptFile are the files beside the data dir the ledger
	// keeps its signing key and latest checkpoint in ("" when absent).
	KeyFile, KeptFile string
}

// ReadDataDir reads the LEDGER stream of a data dir without changing it:
// it copies the dir to a temporary one, opens that with an embedded NATS
// server that has no listener, and calls fn with each stored record's
// sequence and data bytes, in order (a sequence the store lost is
// missing), after setup with what it found. It refuses a data dir a
// running ledger holds. A record stored under a subject other than its
// event's ends the read, after fn had it, with an *integrity.Finding
// naming it.
func ReadDataDir(ctx context.Context, dir string, setup func(StoredRecords) error, fn func(seq uint64, data []byte) error) (StoredRecords, error) {
	var out StoredRecords
	if fi, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil || !fi.IsDir() {
		return out, fmt.Errorf("%s is not a tokenledger data dir (no jetstream directory)", dir)
	}
	if held, err := lockedByLedger(dir); err != nil {
		return out, err
	} else if held {
		return out, fmt.Errorf("a tokenledger process is running on %s: stop it (the copy would not be consistent) or verify it with --server", dir)
	}
	for _, f := range []struct {
		path string
		dst  *string
	}{{ledgerkey.DefaultFile(dir), &out.KeyFile}, {defaultKeptCheckpoint(dir), &out.KeptFile}} {
		if _, err := os.Stat(f.path); err == nil {
			*f.dst = f.path
		}
	}
	tmp, err := os.MkdirTemp("", "tokenledger-verify-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(tmp)
	cp := filepath.Join(tmp, "data")
	if err := copyVerifiedDataDir(cp, dir); err != nil {
		return out, fmt.Errorf("copy %s: %w", dir, err)
	}
	owner, err := randomPassword()
	if err != nil {
		return out, err
	}
	feed, err := randomPassword()
	if err != nil {
		return out, err
	}
	cfg := jsstore.DefaultEmbedded(cp)
	cfg.SyncAlways = false // a throw-away copy
	cfg.OwnerPassword, cfg.FeedPassword = owner, feed
	s, err := jsstore.StartEmbedded(ctx, cfg)
	if err != nil {
		return out, err
	}
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(jsstore.OwnerUser, owner), nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix),
		nats.InProcessServer(s))
	if err != nil {
		return out, fmt.Errorf("connect to the copy: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return out, err
	}
	str, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		return out, fmt.Errorf("the data dir holds no readable %s stream: %w", jsstore.DefaultStream, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		return out, err
	}
	out.LastSeq = info.State.LastSeq
	if err := setup(out); err != nil {
		return out, err
	}
	if info.State.Msgs == 0 {
		return out, nil
	}
	next := uint64(1)
	for next <= out.LastSeq {
		seq, err := readRecords(ctx, str, next, out.LastSeq, fn)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, errRecordWithheld) {
			return out, err
		}
		// The consumer did not deliver the record at seq: read it with
		// Direct Get, which hands out what is stored (a record a consumer
		// takes for a control message: no data and a Status header), and
		// let fn judge it.
		msgs, gerr := directget.Batch(ctx, nc, "$JS.API.", jsstore.DefaultStream, "", seq, 1)
		if gerr != nil {
			return out, fmt.Errorf("read %s at sequence %d: %w (%w)", jsstore.DefaultStream, seq, err, gerr)
		}
		misfiled := misfiledRecord(msgs[0].Sequence, msgs[0].Subject, msgs[0].Data)
		if err := fn(msgs[0].Sequence, msgs[0].Data); err != nil {
			return out, err
		}
		if misfiled != nil {
			return out, misfiled
		}
		next = msgs[0].Sequence + 1
	}
	return out, nil
}

// errRecordWithheld: the consumer delivered nothing for a while, though
// the stream holds later records.
var errRecordWithheld = errors.New("no record delivered")

// recordWait is how long ReadDataDir waits for the consumer's next record
// (a local, listener-less copy: a record is there at once or withheld).
const recordWait = 3 * time.Second

// readRecords calls fn with each record from sequence from to last, in
// order, with an ordered consumer. When the consumer delivers nothing for
// recordWait it returns the next sequence expected and errRecordWithheld.
func readRecords(ctx context.Context, str jetstream.Stream, from, last uint64, fn func(seq uint64, data []byte) error) (uint64, error) {
	cons, err := str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return from, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(4096, 2<<20))
	if err != nil {
		return from, err
	}
	defer it.Stop()
	next := from
	for {
		if err := ctx.Err(); err != nil {
			return next, err
		}
		msg, err := it.Next(jetstream.NextMaxWait(recordWait))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
			return next, errRecordWithheld
		}
		if err != nil {
			return next, fmt.Errorf("read %s: %w", jsstore.DefaultStream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return next, err
		}
		misfiled := misfiledRecord(md.Sequence.Stream, msg.Subject(), msg.Data())
		if err := fn(md.Sequence.Stream, msg.Data()); err != nil {
			return next, err
		}
		if misfiled != nil {
			return next, misfiled
		}
		next = md.Sequence.Stream + 1
		if md.NumPending == 0 || md.Sequence.Stream >= last {
			return next, nil
		}
	}
}

// lockedByLedger reports whether a tokenledger process holds dir's lock.
func lockedByLedger(dir string) (bool, error) {
	path := filepath.Join(dir, "tokenledger.lock")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	l := flock.New(path)
	ok, err := l.TryLock()
	if err != nil {
		return false, fmt.Errorf("data dir %s: lock: %w", dir, err)
	}
	if ok {
		_ = l.Unlock()
	}
	return !ok, nil
}

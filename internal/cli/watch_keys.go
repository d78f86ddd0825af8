package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/projections/feed"
)

// watchKeyWait bounds how long watch waits for the heartbeat that
// announces the ledger's key when none was given.
const watchKeyWait = 10 * time.Second

// watchKeys are the ledger keys watch checks feed events with: the ones
// given (--ledger-key), or those the publisher's signed heartbeat
// announces (trusted on first use, as projections/verifier does). An event
// they did not sign is not printed; a signed event that names another
// predecessor than the last one printed means the feed lost events, and
// watch stops.
type watchKeys struct {
	mu     sync.Mutex
	keys   feed.Keys
	pinned bool
	keyed  chan struct{}
	once   sync.Once
	last   uint64 // ledger sequence of the last signed event checked
	seen   bool
}

func newWatchKeys(given []string) (*watchKeys, error) {
	k := &watchKeys{keyed: make(chan struct{})}
	for _, v := range given {
		if err := k.keys.Add(v); err != nil {
			return nil, usagef("--ledger-key: %v", err)
		}
		k.pinned = true
	}
	if k.pinned {
		k.once.Do(func() { close(k.keyed) })
	}
	return k, nil
}

// onHeartbeat trusts the key a signed heartbeat announces, when no key
// was given.
func (k *watchKeys) onHeartbeat(m *nats.Msg) {
	hb, err := feed.ParseHeartbeat(m.Data)
	if err != nil || k.pinned {
		return
	}
	if feed.CheckHeartbeat(hb, m.Header.Get(feed.KeyHeader), m.Header.Get(feed.SignatureHeader), m.Data) != nil {
		return
	}
	k.mu.Lock()
	err = k.keys.Add(hb.VerifierKey)
	k.mu.Unlock()
	if err == nil {
		k.once.Do(func() { close(k.keyed) })
	}
}

// wait returns once a key is trusted.
func (k *watchKeys) wait(ctx context.Context) error {
	select {
	case <-k.keyed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(watchKeyWait):
		return fmt.Errorf("no signed heartbeat from the ledger's feed publisher within %s to learn its key: give --ledger-key (the verifierKey of GET /api/ledger/checkpoint)", watchKeyWait)
	}
}

// errFeedLostEvents: a signed event does not follow the last one.
var errFeedLostEvents = errors.New("the token feed lost events (a signed event names a predecessor it does not follow): restore the ledger's data dir")

// check reports whether ev is the ledger's (nil), or why it is not shown;
// an error wrapping errFeedLostEvents stops watch.
func (k *watchKeys) check(ev feed.Event) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.keys.Check(ev); err != nil {
		return err
	}
	if k.seen && ev.LedgerSequence <= k.last {
		return fmt.Errorf("feed sequence %d: a copy of ledger sequence %d, shown already", ev.Sequence, ev.LedgerSequence)
	}
	if prev, ok := ev.PreviousSequence(); ok && k.seen && prev != k.last {
		return fmt.Errorf("feed sequence %d names ledger sequence %d before it, the last shown was %d: %w", ev.Sequence, prev, k.last, errFeedLostEvents)
	}
	k.last, k.seen = ev.LedgerSequence, true
	return nil
}

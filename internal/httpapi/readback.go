package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// afterWriteDir finishes a write whose answer shows the directory record it
// made or changed (a user, service account, role, project or environment).
// It waits as afterWrite does and returns the directory to read the answer
// from: the projections' own once they applied the write; when they lag
// past the read wait, a scratch directory folded from the aggregate's own
// events up to the write, so the answer shows what was stored rather than a
// 500 or the record as it was before. If the store's read of the aggregate
// lags too, the answer is a 503 that says the change is stored.
func (s *Server) afterWriteDir(w http.ResponseWriter, r *http.Request, res commands.Result, kind, id string) (*directory.Directory, error) {
	if s.afterWrite(w, r, res) {
		return s.dir, nil
	}
	// The command's own event: the first of its atomic batch (names,
	// idempotency keys and cascades follow it).
	head := res.Head
	if head == 0 {
		head = res.Seq
	}
	// A replicated stream's Direct Get may be answered by a follower that
	// has not stored the write yet: a few short retries (0.6 s in all).
	var evs []events.Envelope
	for wait := 20 * time.Millisecond; ; wait *= 2 {
		var err error
		evs, err = s.store.Load(r.Context(), kind, id)
		if err == nil && len(evs) > 0 && evs[len(evs)-1].Sequence >= head {
			break
		}
		if wait > 320*time.Millisecond || r.Context().Err() != nil {
			s.log.Warn("read-back of a stored write lagging", "kind", kind, "seq", res.Seq, "err", err)
			return nil, storedLagging(res.Seq)
		}
		time.Sleep(wait)
	}
	d := directory.New()
	for _, e := range evs {
		if e.Sequence > head {
			break
		}
		if err := d.Apply(e); err != nil {
			return nil, fmt.Errorf("httpapi: fold %s %s for its answer: %w", kind, id, err)
		}
	}
	return d, nil
}

// storedLagging is the 503 of a write that is stored at seq but that this
// replica cannot show yet.
func storedLagging(seq uint64) error {
	return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
		fmt.Sprintf("The change is stored (ledger sequence %d) but this replica has not read it back yet: read the resource again shortly, or retry with the same Idempotency-Key, which answers it without recording it twice", seq))
}

package cli

import (
	"context"
	"io"
	"time"
)

// idleTimeout bounds how long a request waits for its answer to begin, and
// then for each further piece of its body: a stalled server fails the
// command, a steady stream (an export of a million events) is never cut.
const idleTimeout = 30 * time.Second

// idleWatch cancels a request's context when its answer stalls.
type idleWatch struct {
	timer  *time.Timer
	cancel context.CancelFunc
}

// watchIdle returns ctx bound by an idle watch, which starts now.
func watchIdle(ctx context.Context) (context.Context, *idleWatch) {
	ctx, cancel := context.WithCancel(ctx)
	return ctx, &idleWatch{timer: time.AfterFunc(idleTimeout, cancel), cancel: cancel}
}

// stop ends the watch and releases its context.
func (w *idleWatch) stop() {
	w.timer.Stop()
	w.cancel()
}

// body is rc whose every read that returns data restarts the watch, and
// whose Close stops it.
func (w *idleWatch) body(rc io.ReadCloser) io.ReadCloser { return &idleBody{rc: rc, w: w} }

type idleBody struct {
	rc io.ReadCloser
	w  *idleWatch
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.timer.Reset(idleTimeout)
	}
	return n, err
}

func (b *idleBody) Close() error {
	err := b.rc.Close()
	b.w.stop()
	return err
}

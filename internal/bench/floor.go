package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// bareHTTP is the HTTP floor: a bare net/http server on loopback that
// reads the request and answers fixed bytes, as fast as net/http goes.
type bareHTTP struct {
	srv  *http.Server
	url  string
	body atomic.Pointer[[]byte]
}

func startBareHTTP() (*bareHTTP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: floor listener: %w", err)
	}
	b := &bareHTTP{url: "http://" + ln.Addr().String()}
	empty := []byte{}
	b.body.Store(&empty)
	b.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*b.body.Load())
	})}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

// answer sets the bytes every request gets (what the ledger answered).
func (b *bareHTTP) answer(body []byte) { b.body.Store(&body) }

func (b *bareHTTP) close() { _ = b.srv.Close() }

// rawJetStream is the append floor: an embedded nats-server of the
// ledger's own configuration (file storage, sync_interval: always) with a
// stream of the ledger's configuration, published to directly.
type rawJetStream struct {
	ns      *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	dir     string
	payload []byte
	next    atomic.Uint64
}

// floorPayloadBytes is the size of one raw publish: about a token.created
// event with its request context, signature and hash.
const floorPayloadBytes = 760

func startRawJetStream(ctx context.Context, tmp string) (*rawJetStream, error) {
	dir, err := os.MkdirTemp(tmp, "floor-nats-")
	if err != nil {
		return nil, fmt.Errorf("bench: floor data dir: %w", err)
	}
	ns, err := jsstore.StartEmbedded(ctx, jsstore.DefaultEmbedded(dir))
	if err != nil {
		return nil, fmt.Errorf("bench: floor nats-server: %w", err)
	}
	r := &rawJetStream{ns: ns, dir: dir, payload: make([]byte, floorPayloadBytes)}
	_, _ = rand.Read(r.payload)
	if r.nc, err = nats.Connect("", nats.InProcessServer(ns), nats.Name("tokenledger-bench-floor")); err != nil {
		r.close()
		return nil, fmt.Errorf("bench: floor connection: %w", err)
	}
	if r.js, err = jetstream.New(r.nc); err != nil {
		r.close()
		return nil, fmt.Errorf("bench: floor JetStream: %w", err)
	}
	if _, err := r.js.CreateStream(ctx, jsstore.StreamConfig(jsstore.Config{})); err != nil {
		r.close()
		return nil, fmt.Errorf("bench: floor stream: %w", err)
	}
	return r, nil
}

// publish appends one message to its own subject and waits for the
// stream's acknowledgement (after the fsync).
func (r *rawJetStream) publish(ctx context.Context) error {
	n := r.next.Add(1)
	_, err := r.js.Publish(ctx, "ledger.token.floor"+strconv.FormatUint(n, 10)+".created", r.payload)
	if err != nil {
		return fmt.Errorf("bench: floor publish: %w", err)
	}
	return nil
}

func (r *rawJetStream) close() {
	if r.nc != nil {
		r.nc.Close()
	}
	r.ns.Shutdown()
	r.ns.WaitForShutdown()
	_ = os.RemoveAll(r.dir)
}

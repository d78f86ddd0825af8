package natstest

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback in front of one address (a node's
// client port): a client that connects through it can be cut off from
// the cluster and let back in, while everyone else still reaches it. It
// is closed when the test ends.
//
// It fails in two ways: [Proxy.Cut] drops every connection (the client
// learns at once), [Proxy.Blackhole] keeps every connection open and
// forwards nothing (the client learns only when its pings go unanswered).
type Proxy struct {
	tb     testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	open   *sync.Cond // broadcast when hole, cut or closed change
	cut    bool
	hole   bool
	closed bool
	conns  map[net.Conn]struct{} // both ends of every live pair
	wg     sync.WaitGroup
}

// StartProxy listens on 127.0.0.1 (a random port) and forwards every
// connection to target.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("natstest: proxy: %v", err)
	}
	p := &Proxy{tb: tb, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.open = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// URL is the proxy's address as a NATS client URL.
func (p *Proxy) URL() string { return fmt.Sprintf("nats://%s", p.ln.Addr()) }

// Cut drops every connection through the proxy and refuses new ones (they
// are accepted and closed at once, as a partitioned peer would look to
// the client) until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.open.Broadcast()
}

// Blackhole stops forwarding bytes in either direction without closing
// any connection, until Heal: what each side sends is held (as the
// network's buffers and retransmissions would), new connections are
// accepted and then hear nothing. Only a client's pings, unanswered,
// tell it.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hole = true
}

// Heal lets connections through again; held bytes flow on connections
// still open.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.hole = false, false
	p.open.Broadcast()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		if p.cut { // cut while dialling
			p.mu.Unlock()
			_ = in.Close()
			_ = out.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies src to dst, holding each chunk while the proxy is a black
// hole, until either fails (a cut, a close) or the proxy closes; then it
// closes both.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitOpen() {
				break
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// waitOpen blocks while the proxy is a black hole; false once it closed.
func (p *Proxy) waitOpen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.hole && !p.closed {
		p.open.Wait()
	}
	return !p.closed
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
}

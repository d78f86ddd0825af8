package natstest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// clusterReadyTimeout bounds how long a cluster (or a restarted node) may
// take to elect a JetStream meta leader and catch up; an election after a
// node is lost takes 4–9 s on its own.
const clusterReadyTimeout = 30 * time.Second

// Cluster is a JetStream cluster of in-process nats-servers on loopback,
// each with its own temporary store, random client and route ports fixed
// at first start (a restarted node keeps them), and sync_interval always:
// the durability setting a ledger cluster runs with. Nodes can be stopped
// and started again; the cluster is shut down when the test ends.
type Cluster struct {
	tb     testing.TB
	name   string
	change func(i int, o *server.Options)

	mu    sync.Mutex
	nodes []*node
}

type node struct {
	name        string
	dir         string
	clientPort  int
	clusterPort int
	srv         *server.Server // nil while stopped
}

// StartCluster starts a cluster of n nodes (named n1…nN) and waits until
// its JetStream meta group has a leader and every node is current.
// change, when not nil, adjusts node i's options before every start of
// the node (accounts, users, a different sync setting).
func StartCluster(tb testing.TB, n int, change func(i int, o *server.Options)) *Cluster {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("natstest: cluster of %d nodes", n)
	}
	c := &Cluster{tb: tb, name: "ledger-test", change: change}
	for i := range n {
		c.nodes = append(c.nodes, &node{name: fmt.Sprintf("n%d", i+1), dir: tb.TempDir(),
			clientPort: server.RANDOM_PORT, clusterPort: server.RANDOM_PORT})
	}
	// Registered after the TempDirs: cleanups run last first, so the
	// nodes stop before their stores are removed.
	tb.Cleanup(c.shutdown)
	// The first node picks its route port; the others route to it and
	// gossip completes the mesh. No port is probed and released first, so
	// none can be taken by someone else in between.
	for i := range c.nodes {
		if err := c.startNode(i); err != nil {
			tb.Fatalf("natstest: start %s: %v", c.nodes[i].name, err)
		}
	}
	c.WaitReady()
	return c
}

// startNode starts node i with the ports it had (or random ones the first
// time) and routes to every other node whose route port is known.
func (c *Cluster) startNode(i int) error {
	c.mu.Lock()
	nd := c.nodes[i]
	var routes []string
	for j, o := range c.nodes {
		if j != i && o.clusterPort > 0 {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.clusterPort))
		}
	}
	c.mu.Unlock()
	opts := &server.Options{
		ServerName: nd.name,
		Host:       "127.0.0.1",
		Port:       nd.clientPort,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   nd.dir,
		SyncAlways: true,
		Cluster:    server.ClusterOpts{Name: c.name, Host: "127.0.0.1", Port: nd.clusterPort},
		Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
	}
	if c.change != nil {
		c.change(i, opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		return fmt.Errorf("not ready after %s", readyTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	nd.srv = s
	nd.clientPort = s.Addr().(*net.TCPAddr).Port
	nd.clusterPort = s.ClusterAddr().Port
	return nil
}

// Size is the number of nodes, running or not.
func (c *Cluster) Size() int { return len(c.nodes) }

// Name is node i's server name.
func (c *Cluster) Name(i int) string { return c.nodes[i].name }

// Server is node i's running server, or nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].srv
}

// ClientURL is node i's client URL (the same across restarts).
func (c *Cluster) ClientURL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].clientPort)
}

// URLs is every node's client URL, comma-separated, as --nats-url takes
// them.
func (c *Cluster) URLs() string {
	c.mu.Lock()
	ports := make([]int, len(c.nodes))
	for i, nd := range c.nodes {
		ports[i] = nd.clientPort
	}
	c.mu.Unlock()
	return loopbackURLs(ports)
}

// Connect opens a client connection to the cluster (any node, reconnecting
// to another without end). It is closed when the test ends.
func (c *Cluster) Connect(opts ...nats.Option) *nats.Conn {
	c.tb.Helper()
	return connectCluster(c.tb, c.URLs(), opts...)
}

// Stop shuts node i down and waits until it is gone. Shutdown is the
// in-process equivalent of a crash of the node's process as far as its
// clients and peers can tell: connections and routes drop at once (a
// stream leader it held is lost; its peers elect another).
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	c.mu.Lock()
	s := c.nodes[i].srv
	c.nodes[i].srv = nil
	c.mu.Unlock()
	if s == nil {
		c.tb.Fatalf("natstest: stop %s: not running", c.nodes[i].name)
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts a stopped node i again on its store, ports and name,
// and waits until it is a current member of the meta group again.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	c.StartAgain(i)
	c.WaitReady()
}

// StartAgain starts a stopped node i again on its store, ports and name
// without waiting for the meta group (which needs a quorum of nodes).
func (c *Cluster) StartAgain(i int) {
	c.tb.Helper()
	if c.Server(i) != nil {
		c.tb.Fatalf("natstest: restart %s: still running", c.nodes[i].name)
	}
	if err := c.startNode(i); err != nil {
		c.tb.Fatalf("natstest: restart %s: %v", c.nodes[i].name, err)
	}
}

// WaitReady waits (bounded) until one running node leads the JetStream
// meta group and every running node is current with it.
func (c *Cluster) WaitReady() {
	c.tb.Helper()
	err := waitUntil(clusterReadyTimeout, func() error {
		leader := false
		for i := range c.nodes {
			s := c.Server(i)
			if s == nil {
				continue
			}
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("%s is not current with the meta group", c.nodes[i].name)
			}
			leader = leader || s.JetStreamIsLeader()
		}
		if !leader {
			return errors.New("no meta leader")
		}
		return nil
	})
	if err != nil {
		c.tb.Fatalf("natstest: cluster not ready: %v", err)
	}
}

// StreamLeader is the index of the node leading the stream in the
// default account, or -1 when no running node leads it.
func (c *Cluster) StreamLeader(stream string) int {
	return c.StreamLeaderIn(server.DEFAULT_GLOBAL_ACCOUNT, stream)
}

// StreamLeaderIn is StreamLeader for a stream of the named account.
func (c *Cluster) StreamLeaderIn(account, stream string) int {
	for i := range c.nodes {
		if s := c.Server(i); s != nil && s.JetStreamIsStreamLeader(account, stream) {
			return i
		}
	}
	return -1
}

// WaitStreamCurrent waits (bounded) until the stream of the default
// account has a leader and every replica of it reports current, as seen
// through nc; it returns the leader's index.
func (c *Cluster) WaitStreamCurrent(nc *nats.Conn, stream string) int {
	c.tb.Helper()
	return waitStreamCurrent(c.tb, nc, stream, func(string) int { return c.StreamLeader(stream) })
}

func (c *Cluster) shutdown() {
	for i := range c.nodes {
		if s := c.Server(i); s != nil {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
}

// waitUntil polls f every 50 ms until it returns nil or timeout passes,
// returning f's last error then.
func waitUntil(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WithUserURL returns the comma-separated URLs with user:password added
// to each, for a cluster whose options require a user.
func WithUserURL(urls, user, password string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(p)
		if err != nil {
			continue
		}
		u.User = url.UserPassword(user, password)
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

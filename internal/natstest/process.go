package natstest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// childEnv names the spec file that makes a test binary a nats-server
// child process (see [RunChildIfAsked]).
const childEnv = "NATSTEST_CHILD_SERVER"

// childSpec is one node of a [ProcessCluster].
type childSpec struct {
	Name        string   `json:"name"`
	Dir         string   `json:"dir"`
	ClientPort  int      `json:"client_port"`
	ClusterPort int      `json:"cluster_port"`
	Routes      []string `json:"routes"`
}

// RunChildIfAsked makes this test binary a nats-server node when it was
// started as one by a [ProcessCluster]: it serves until killed and never
// returns. Otherwise it returns at once. Call it first in TestMain.
func RunChildIfAsked() {
	path := os.Getenv(childEnv)
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	var spec childSpec
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "natstest child: spec: %v\n", err)
		os.Exit(2)
	}
	opts := &server.Options{ServerName: spec.Name, Host: "127.0.0.1", Port: spec.ClientPort, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: spec.Dir, SyncAlways: true,
		Cluster: server.ClusterOpts{Name: "ledger-proc-test", Host: "127.0.0.1", Port: spec.ClusterPort},
		Routes:  server.RoutesFromStr(strings.Join(spec.Routes, ","))}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "natstest child: %v\n", err)
		os.Exit(2)
	}
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		os.Exit(2)
	}
	fmt.Printf("ready %d %d\n", s.Addr().(*net.TCPAddr).Port, s.ClusterAddr().Port)
	s.WaitForShutdown()
	os.Exit(0)
}

// ProcessCluster is a JetStream cluster of nats-server child processes
// (this test binary, started again; see [RunChildIfAsked]) on loopback,
// sync always: a node can be killed with SIGKILL, a crash its peers learn
// of only by its silence (an in-process Shutdown steps its leaderships
// down first). Killed nodes restart on their store and ports. Every node
// is killed when the test ends.
type ProcessCluster struct {
	tb    testing.TB
	mu    sync.Mutex
	nodes []*procNode
}

type procNode struct {
	spec childSpec
	cmd  *exec.Cmd
}

// StartProcessCluster starts n nodes and waits until JetStream answers.
// The package's TestMain must call [RunChildIfAsked].
func StartProcessCluster(tb testing.TB, n int) *ProcessCluster {
	tb.Helper()
	c := &ProcessCluster{tb: tb}
	for i := range n {
		c.nodes = append(c.nodes, &procNode{spec: childSpec{Name: fmt.Sprintf("p%d", i+1), Dir: tb.TempDir()}})
	}
	tb.Cleanup(c.killAll) // after the TempDirs: the nodes die before their stores go
	for i := range c.nodes {
		if err := c.start(i); err != nil {
			tb.Fatalf("natstest: start %s: %v", c.nodes[i].spec.Name, err)
		}
	}
	c.waitJetStream()
	return c
}

// start runs node i (ports of its last run, random the first time),
// routing to every node whose route port is known, and reads its ports.
func (c *ProcessCluster) start(i int) error {
	c.mu.Lock()
	nd := c.nodes[i]
	nd.spec.Routes = nil
	for j, o := range c.nodes {
		if j != i && o.spec.ClusterPort > 0 {
			nd.spec.Routes = append(nd.spec.Routes, fmt.Sprintf("nats://127.0.0.1:%d", o.spec.ClusterPort))
		}
	}
	spec := nd.spec
	if spec.ClientPort == 0 {
		spec.ClientPort, spec.ClusterPort = server.RANDOM_PORT, server.RANDOM_PORT
	}
	c.mu.Unlock()
	b, _ := json.Marshal(spec)
	path := filepath.Join(spec.Dir, "natstest-child.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		for sc.Scan() { // drain until the child exits
		}
	}()
	var client, cluster int
	select {
	case l := <-line:
		if _, err := fmt.Sscanf(l, "ready %d %d", &client, &cluster); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("child said %q", l)
		}
	case <-time.After(clusterReadyTimeout):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return errors.New("child not ready")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	nd.cmd, nd.spec.ClientPort, nd.spec.ClusterPort = cmd, client, cluster
	return nil
}

// Name is node i's server name.
func (c *ProcessCluster) Name(i int) string { return c.nodes[i].spec.Name }

// Index is the index of the node named name, or -1.
func (c *ProcessCluster) Index(name string) int {
	for i, nd := range c.nodes {
		if nd.spec.Name == name {
			return i
		}
	}
	return -1
}

// URLs is every node's client URL, comma-separated.
func (c *ProcessCluster) URLs() string {
	c.mu.Lock()
	ports := make([]int, len(c.nodes))
	for i, nd := range c.nodes {
		ports[i] = nd.spec.ClientPort
	}
	c.mu.Unlock()
	return loopbackURLs(ports)
}

// Connect opens a client connection to the cluster, reconnecting without
// end; it is closed when the test ends.
func (c *ProcessCluster) Connect(opts ...nats.Option) *nats.Conn {
	c.tb.Helper()
	return connectCluster(c.tb, c.URLs(), opts...)
}

// ConnectFirst opens a client connection to node i, reconnecting to the
// others (in order) when it is lost; it is closed when the test ends.
func (c *ProcessCluster) ConnectFirst(i int, opts ...nats.Option) *nats.Conn {
	c.tb.Helper()
	c.mu.Lock()
	ports := []int{c.nodes[i].spec.ClientPort}
	for j, nd := range c.nodes {
		if j != i {
			ports = append(ports, nd.spec.ClientPort)
		}
	}
	c.mu.Unlock()
	return connectCluster(c.tb, loopbackURLs(ports), append([]nats.Option{nats.DontRandomize()}, opts...)...)
}

// Kill sends node i SIGKILL and waits for it to exit.
func (c *ProcessCluster) Kill(i int) {
	c.tb.Helper()
	c.mu.Lock()
	cmd := c.nodes[i].cmd
	c.nodes[i].cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		c.tb.Fatalf("natstest: kill %s: not running", c.Name(i))
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Restart starts a killed node i again on its store and ports.
func (c *ProcessCluster) Restart(i int) {
	c.tb.Helper()
	if err := c.start(i); err != nil {
		c.tb.Fatalf("natstest: restart %s: %v", c.Name(i), err)
	}
}

// WaitStreamCurrent waits (bounded) until stream has a leader and every
// replica is current, and returns the leader's index.
func (c *ProcessCluster) WaitStreamCurrent(nc *nats.Conn, stream string) int {
	c.tb.Helper()
	return waitStreamCurrent(c.tb, nc, stream, c.Index)
}

// waitJetStream waits (bounded) until the cluster's JetStream answers
// account info (it has a meta leader).
func (c *ProcessCluster) waitJetStream() {
	c.tb.Helper()
	nc := c.Connect()
	js, err := jetstream.New(nc)
	if err != nil {
		c.tb.Fatal(err)
	}
	err = waitUntil(clusterReadyTimeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	if err != nil {
		c.tb.Fatalf("natstest: process cluster's JetStream not ready: %v", err)
	}
}

func (c *ProcessCluster) killAll() {
	for _, nd := range c.nodes {
		c.mu.Lock()
		cmd := nd.cmd
		nd.cmd = nil
		c.mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
}

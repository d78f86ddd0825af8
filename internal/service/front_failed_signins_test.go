package service_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
)

// Failed sign-ins at the NATS listener are not limited per address. Each
// one makes nats-server compare a bcrypt hash (50-100 ms of CPU at the
// cost "nats server passwd" uses, in the ledger's own process), so one
// anonymous address can guess readers' passwords and burn the ledger's
// CPU without end, where HTTP refuses an address after --unauth-burst
// failed authentications. After more failures than that burst from one
// address, the front must refuse the address's next sign-ins before the
// server checks another password.
func TestFrontLimitsFailedSignInsPerAddress(t *testing.T) {
	const attempts = 80 // the HTTP side's default burst is 50
	s := startWithReaders(t, "", withBurstOnlyUnauthLimits(t))
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 5 * time.Second}
	checked := 0
	for i := range attempts {
		c, err := d.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
			_ = c.Close()
			continue // refused before INFO: limited
		}
		fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"user\":%q,\"pass\":\"guess-%d\"}\r\nPING\r\n", testReader, i)
		line, _ := r.ReadString('\n')
		_ = c.Close()
		if strings.Contains(line, "Authorization Violation") {
			checked++
		}
	}
	if checked == attempts {
		t.Fatalf("the server checked the password of all %d failed sign-ins from one address: no per-address limit", attempts)
	}
}

// The failed sign-in budget is spent by failures only: a reader that signs
// in and out more often than the budget's burst from one address is never
// refused, and its wrong-password neighbour's refusal names the limit.
func TestFrontDoesNotChargeSuccessfulSignIns(t *testing.T) {
	const signIns = 80 // more than the default burst of 50
	s := startWithReaders(t, "", withBurstOnlyUnauthLimits(t))
	u, err := url.Parse(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.4")}, Timeout: 5 * time.Second}
	signIn := func(pass string) (string, error) {
		c, err := d.Dial("tcp", u.Host)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "INFO ") {
			return line, err
		}
		fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"user\":%q,\"pass\":%q}\r\nPING\r\n", testReader, pass)
		return r.ReadString('\n')
	}
	for i := range signIns {
		if line, err := signIn(testReaderPW); err != nil || !strings.HasPrefix(line, "PONG") {
			t.Fatalf("sign-in %d of a reader with the right password: %q, %v", i+1, line, err)
		}
	}
	for i := range signIns {
		line, err := signIn("wrong")
		if err != nil {
			continue // closed before INFO: refused
		}
		if strings.Contains(line, "Too Many Failed Sign-Ins") {
			return
		}
		if !strings.Contains(line, "Authorization Violation") {
			t.Fatalf("wrong password %d: %q", i+1, line)
		}
	}
	t.Fatalf("%d wrong passwords from one address were all checked", signIns)
}

// withBurstOnlyUnauthLimits gives a test service the --unauth-burst an
// operator gets by default (the test kit turns the limits off) with a
// refill rate of one failure in 100 s: the tests count on the burst, and at
// the default 5 per second a loaded machine, where each bcrypt check takes
// long, refilled the bucket as fast as the test spent it.
func withBurstOnlyUnauthLimits(t *testing.T) func(*service.Config) {
	d, err := service.ParseConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.01, d.UnauthBurst }
}

package service_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
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
	s := startWithReaders(t, "", nil)
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

package service_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A NATS listener that admits no reader keeps no readers' feed: no stream
// in the feed's account (no fsynced publish per token event, no write
// buffer held for nobody), and the feed's state is "off". A later start
// with a reader fills the feed from the ledger's first event.
func TestListenerWithoutReadersKeepsNoFeedUntilAReaderIsAdded(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.NATSListen = "127.0.0.1:0" })
	if s.NATSURL() == "" {
		t.Fatal("the service has no NATS listener")
	}
	s.CreateToken("backend", "development")
	s.CreateToken("client", "development")
	if v := sample(t, string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body), `tokenledger_feed_state{state="off"}`); v != 1 {
		t.Errorf("without readers the feed state off = %v, want 1", v)
	}
	want := float64(s.LastSeq())
	dir := s.Config.DataDir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	feedDir := filepath.Join(dir, "jetstream", jsstore.FeedAccount, "streams", jsstore.FeedStream)
	if _, err := os.Stat(feedDir); !os.IsNotExist(err) {
		t.Fatalf("the feed's stream exists without readers (%s: %v)", feedDir, err)
	}

	s = startWithReaders(t, dir, nil)
	servicetest.WaitFor(t, 10*time.Second, func() error {
		body := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
		following := sample(t, body, `tokenledger_feed_state{state="following"}`)
		last := sample(t, body, "tokenledger_feed_last_ledger_sequence ")
		if following == 1 && last >= want {
			return nil
		}
		return fmt.Errorf("feed following=%v last ledger sequence=%v, want 1 and at least %v", following, last, want)
	})
}

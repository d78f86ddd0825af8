package service_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A second start on a data dir a running ledger holds, asked to rotate or
// to adopt: it stops at the data dir's lock, before the key file or its
// history is read or written (held, atk-r24).
func TestASecondStartOnARunningDataDirTouchesNoKeyFile(t *testing.T) {
	dir, _, _ := startRotated(t, 0)
	keyFile := ledgerkey.DefaultFile(dir)
	s := servicetest.Start(t, dir, nil)
	s.CreateToken("backend", "development")
	key, _ := os.ReadFile(keyFile)
	hist, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile))
	err := startRefused(t, dir, func(c *service.Config) { c.RotateSigningKey, c.AdoptKeyHistory = true, "0123" })
	if !strings.Contains(err.Error(), "in use by another tokenledger process") {
		t.Errorf("second start = %v, want the data dir's lock", err)
	}
	if after, _ := os.ReadFile(keyFile); string(after) != string(key) {
		t.Errorf("the second start changed the key file")
	}
	if after, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile)); string(after) != string(hist) {
		t.Errorf("the second start changed the key history")
	}
	if _, err := os.Stat(keyFile + ".next"); err == nil {
		t.Errorf("the second start wrote %s.next", keyFile)
	}
	s.CreateToken("client", "development") // the first one still signs, the chain takes it
}

package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// While the start checks the stream before rotating, /ready answers 503
// STARTING with the check as its reason, and no log line of the rotating
// start holds the secret part of the old or the new key file (atk-r23:
// held).
func TestTheCheckBeforeRotatingIsNamedByReadyAndLogsNoKeySecret(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dir := s.Config.DataDir
	keyFile := ledgerkey.DefaultFile(dir)
	oldSecret, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var m *service.Main
	var ready map[string]any
	var readyStatus int
	logs := &onLine{marker: []byte("checking every event's signature before rotating the signing key"), do: func() {
		resp, err := http.Get(m.URL() + "/ready")
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		readyStatus = resp.StatusCode
		_ = json.Unmarshal(b, &ready)
	}}
	cfg := servicetest.Config(dir, nil, logs)
	cfg.RotateSigningKey = true
	m = service.NewMain(cfg)
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	t.Logf("/ready during the check: %d %v", readyStatus, ready)
	if readyStatus != http.StatusServiceUnavailable || ready["health"] != "STARTING" ||
		!strings.Contains(fmtAny(ready), "checking every event's signature before rotating") {
		t.Errorf("/ready during the check = %d %v, want 503 STARTING naming the check", readyStatus, ready)
	}
	newSecret, err := os.ReadFile(keyFile)
	if err != nil || string(newSecret) == string(oldSecret) {
		t.Fatalf("the key did not rotate (%v)", err)
	}
	if strings.Contains(logs.String(), "PRIVATE+KEY") {
		t.Error("the logs hold a signer key")
	}
	for _, file := range [][]byte{oldSecret, newSecret} {
		// PRIVATE+KEY+<name>+<id>+<base64 of the private key>
		fields := strings.SplitN(strings.TrimSpace(string(file)), "+", 5)
		if len(fields) != 5 {
			t.Fatalf("key file of %d fields", len(fields))
		}
		if strings.Contains(logs.String(), fields[4]) {
			t.Errorf("the logs hold the private key of key %s", fields[3])
		}
	}
}

func fmtAny(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

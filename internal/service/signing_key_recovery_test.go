package service_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A crash between the key.rotated append and the key file's replacement
// leaves the old key in the file and the new one in "<file>.next": the next
// start finishes the rotation. A key file that is not the chain's last key
// (and no .next to finish with) stops the start-up, saying which is which.
func TestSigningKeyRotationInterruptedIsFinishedAtTheNextStart(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	keyFile := s.Config.DataDir + ".signing-key"
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = servicetest.StartWith(t, s.Config.DataDir, nil, func(c *service.Config) { c.RotateSigningKey = true })
	newKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The crash: the old key still in place, the new one beside it.
	if err := os.WriteFile(keyFile+".next", newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	s = servicetest.Start(t, s.Config.DataDir, nil)
	if got, _ := os.ReadFile(keyFile); string(got) != string(newKey) {
		t.Fatal("the interrupted rotation was not finished: the key file does not hold the new key")
	}
	if _, err := os.Stat(keyFile + ".next"); !os.IsNotExist(err) {
		t.Fatalf("%s.next still there: %v", keyFile, err)
	}
	s.CreateToken("backend", "development") // signs with the new key, and the chain accepts it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The old key again, nothing to finish with: refused, naming both keys.
	if err := os.WriteFile(keyFile, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	m := service.NewMain(service.Config{Listen: "127.0.0.1:0", DataDir: s.Config.DataDir, NATSListen: "off", Replicas: 1, NoSync: true, ExpiryEvery: time.Second,
		Getenv: func(string) string { return "" }, LogOutput: &servicetest.LogBuffer{}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = m.Run(ctx)
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "last key.rotated event names key") {
		t.Fatalf("start with a superseded key file = %v, want a refusal naming the keys", err)
	}
	if strings.Contains(err.Error(), strings.SplitN(strings.TrimSpace(string(oldKey)), "+", 5)[4]) {
		t.Fatal("the error shows the private key")
	}
}

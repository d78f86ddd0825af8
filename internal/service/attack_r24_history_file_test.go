package service_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The key history sits where whoever can write the data dir's parent can
// plant anything in its place: a named pipe, a link to the key file, a
// directory, a huge sparse file, a history sealed by the key with a MAC
// line cut short. Each stops the start at once, naming the key history;
// the key file and what was planted stay as they were; neither the private
// key nor the history's MAC key appears in the error or the logs.
func TestAnythingPlantedAsTheKeyHistoryStopsTheStartWithoutItsSecrets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, hfile, keyFile string)
	}{
		{"named_pipe", func(t *testing.T, hfile, _ string) {
			if err := syscall.Mkfifo(hfile, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"link_to_the_key_file", func(t *testing.T, hfile, keyFile string) {
			if err := os.Symlink(keyFile, hfile); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func(t *testing.T, hfile, _ string) {
			if err := os.Mkdir(hfile, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"huge_sparse_file", func(t *testing.T, hfile, _ string) {
			f, err := os.Create(hfile)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(1 << 40); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}},
		{"key_file_text_with_a_mac_line", func(t *testing.T, hfile, keyFile string) {
			b, err := os.ReadFile(keyFile) // what a link plus a "\nmac " would make the parser read
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(hfile, append(b, []byte("mac x y\n")...), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, keys := startRotated(t, 0)
			keyFile := ledgerkey.DefaultFile(dir)
			hfile := ledgerkey.HistoryFile(keyFile)
			keyText, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(hfile); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, hfile, keyFile)
			before, _ := os.Lstat(hfile)

			logs := &servicetest.LogBuffer{}
			cfg := servicetest.Config(dir, nil, logs)
			m := service.NewMain(cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			start := time.Now()
			runErr := m.Run(ctx)
			took := time.Since(start)
			cancel()
			_ = m.Close()
			t.Logf("start (%v): %v", took, runErr)
			if runErr == nil || !strings.Contains(runErr.Error(), "key history") {
				t.Errorf("start = %v, want a refusal naming the key history", runErr)
			}
			if took > 10*time.Second {
				t.Errorf("the refusal took %v", took)
			}
			if after, _ := os.ReadFile(keyFile); string(after) != string(keyText) {
				t.Errorf("the refused start changed the key file")
			}
			if after, err := os.Lstat(hfile); err != nil || after.Mode() != before.Mode() || after.Size() != before.Size() {
				t.Errorf("the refused start changed what was planted as the key history: %v %v", after, err)
			}
			mac, err := keys[0].DeriveKey("key-history")
			if err != nil {
				t.Fatal(err)
			}
			secret := strings.TrimSpace(string(keyText))
			seed := strings.SplitN(secret, "+", 5)[4] // PRIVATE+KEY+name+id+base64
			said := runErr.Error() + logs.String()
			for _, s := range []string{secret, seed, seed[:16], base64.StdEncoding.EncodeToString(mac), hex.EncodeToString(mac), base64.RawStdEncoding.EncodeToString(mac)[:16]} {
				if strings.Contains(said, s) {
					t.Errorf("the error or the logs hold a secret (%.8s…)", s)
				}
			}
		})
	}
}

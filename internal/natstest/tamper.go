package natstest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FlipStoredByte changes one byte of the first stored message that holds
// needle, in the message block files (*.blk) of the JetStream store under
// dir, as someone with write access to a stopped server's data dir could.
// The byte flipped is the first byte of needle, so the message's stored
// checksum no longer matches. It fails the test when no block holds
// needle, and returns the block file it changed.
func FlipStoredByte(tb testing.TB, dir string, needle []byte) string {
	tb.Helper()
	return EditStored(tb, dir, needle, func(b []byte) { b[0] ^= 0x01 })
}

// EditStored applies edit to the bytes of the first occurrence of needle in
// the message block files under dir (edit must keep the length) and
// returns the file it changed. It fails the test when no block holds
// needle.
func EditStored(tb testing.TB, dir string, needle []byte, edit func([]byte)) string {
	tb.Helper()
	var changed string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || changed != "" || d.IsDir() || !strings.HasSuffix(path, ".blk") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		i := bytes.Index(b, needle)
		if i < 0 {
			return nil
		}
		edit(b[i : i+len(needle)])
		changed = path
		return os.WriteFile(path, b, 0o600)
	})
	if err != nil {
		tb.Fatalf("natstest: edit stored message: %v", err)
	}
	if changed == "" {
		tb.Fatalf("natstest: no message block under %s holds %q", dir, needle)
	}
	return changed
}

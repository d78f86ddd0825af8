package ledgerkey_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// A key history sits where whoever can write the data dir's parent can
// plant one. OpenHistory parsed the planted text before checking its MAC:
// a planted file that is not a history was named by its parse error, not
// as unsealed, and a planted file of MaxHistoryBytes of distinct keys cost
// seconds of CPU at every start (Add's look-up of each key among those
// before it) before the MAC refused it. Found (atk-r24).
func TestAPlantedKeyHistoryIsRefusedAsUnsealedBeforeItIsParsed(t *testing.T) {
	key := genKey(t)
	var many bytes.Buffer
	many.WriteString("unsigned-through 0\n")
	for range 200 {
		fmt.Fprintf(&many, "key %s\n", genKey(t).VerifierKey())
	}
	many.WriteString("mac " + key.ID() + " AAAA\n")
	for _, tc := range []struct{ name, text string }{
		{"not_a_history", "unsigned-through x\nkey y\nmac " + key.ID() + " AAAA\n"},
		{"a_line_longer_than_the_parser_reads", "unsigned-through 0\nkey " + string(bytes.Repeat([]byte("A"), 8192)) + "\nmac " + key.ID() + " AAAA\n"},
		{"many_keys_a_wrong_mac", many.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ledgerkey.OpenHistory([]byte(tc.text), key); !errors.Is(err, ledgerkey.ErrHistoryNotSealed) {
				t.Errorf("OpenHistory = %v, want ErrHistoryNotSealed (the MAC checked before the text is read)", err)
			}
		})
	}
}

// A sealed history that went through a CRLF conversion, or holds a NUL or
// an enormous line, is refused (never taken, never a panic): the MAC
// covers the exact bytes the ledger wrote (held, atk-r24).
func TestASealedKeyHistoryWithItsBytesChangedIsRefused(t *testing.T) {
	key := genKey(t)
	sealed, err := ledgerkey.History{UnsignedThrough: 3, Keys: []string{key.VerifierKey()}}.Seal(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledgerkey.OpenHistory(sealed, key); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"crlf":          bytes.ReplaceAll(sealed, []byte("\n"), []byte("\r\n")),
		"nul":           bytes.Replace(sealed, []byte("unsigned-through 3"), []byte("unsigned-through 3\x00"), 1),
		"enormous_line": bytes.Replace(sealed, []byte("\nkey "), append(append([]byte("\n# "), bytes.Repeat([]byte("x"), 1<<20)...), "\nkey "...), 1),
		"mac_only":      sealed[bytes.Index(sealed, []byte("\nmac ")):],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ledgerkey.OpenHistory(b, key); !errors.Is(err, ledgerkey.ErrHistoryNotSealed) {
				t.Errorf("OpenHistory = %v, want ErrHistoryNotSealed", err)
			}
		})
	}
}

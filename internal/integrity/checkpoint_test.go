package integrity_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

func TestCheckpointSignsAndOpensWithThePublicKeyOnly(t *testing.T) {
	k := newKey(t, "ledger.example")
	root := tlog.RecordHash([]byte("x"))
	cp := integrity.Checkpoint{Origin: "ledger.example", Size: 42, Root: root}
	signed, err := integrity.SignCheckpoint(cp, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(signed), "ledger.example\n42\n"+"") {
		t.Fatalf("note text: %q", signed)
	}
	got, err := integrity.OpenCheckpoint(signed, k.keys)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != cp.Origin || got.Size != 42 || got.Root != root {
		t.Fatalf("got %+v, want %+v", got, cp)
	}
}

func TestOpenCheckpointRefusesWhatTheLedgerKeyDidNotSign(t *testing.T) {
	k := newKey(t, "ledger.example")
	other := newKey(t, "ledger.example") // same name, another key
	stranger := newKey(t, "stranger.example")
	cp := integrity.Checkpoint{Origin: "ledger.example", Size: 7, Root: tlog.RecordHash([]byte("r"))}
	signed, _ := integrity.SignCheckpoint(cp, k.signer)
	byOther, _ := integrity.SignCheckpoint(cp, other.signer)
	// A note whose origin is not the name of the key that signed it.
	foreign, _ := note.Sign(&note.Note{Text: "ledger.example\n7\n" + strings.Repeat("A", 43) + "=\n"}, stranger.signer)
	edited := strings.Replace(string(signed), "\n7\n", "\n8\n", 1)

	tests := []struct {
		name string
		msg  []byte
		keys note.Verifiers
		want error
	}{
		{"signed_by_another_key_of_the_same_name", byOther, k.keys, integrity.ErrCheckpointSignature},
		{"size_edited_after_signing", []byte(edited), k.keys, integrity.ErrCheckpointSignature},
		{"origin_is_not_the_signer", foreign, note.VerifierList(mustVerifier(t, stranger.vkey)), integrity.ErrCheckpointSignature},
		{"no_keys", signed, nil, integrity.ErrCheckpointSignature},
		{"not_a_note", []byte("ledger.example\n7\n"), k.keys, integrity.ErrMalformedCheckpoint},
		{"too_large", []byte(strings.Repeat("a", integrity.MaxCheckpointSize+1)), k.keys, integrity.ErrMalformedCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := integrity.OpenCheckpoint(tt.msg, tt.keys); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseCheckpointIsStrict(t *testing.T) {
	root := "n2jnDVaqdsnGlfK1y/3Ji8dOwwfrxDmZAW7rt8/4fP0="
	for _, text := range []string{
		"",
		"o\n1\n" + root,         // no final newline
		"o\n1\n",                // no root
		"\n1\n" + root + "\n",   // empty origin
		"o\n01\n" + root + "\n", // leading zero
		"o\n-1\n" + root + "\n", // sign
		"o\n+1\n" + root + "\n", // sign
		"o\n1 \n" + root + "\n", // space
		"o\n99999999999999999999\n" + root + "\n", // overflow
		"o\n1\nAAAA\n", // short root
		"o\n1\n" + strings.TrimSuffix(root, "=") + "\n", // unpadded
		"o\n1\n" + root + "\n\n",                        // empty extension line
	} {
		if _, err := integrity.ParseCheckpoint(text); !errors.Is(err, integrity.ErrMalformedCheckpoint) {
			t.Errorf("ParseCheckpoint(%q) = %v, want ErrMalformedCheckpoint", text, err)
		}
	}
	c, err := integrity.ParseCheckpoint("o\n0\n" + root + "\next one\n")
	if err != nil || c.Size != 0 || len(c.Extensions) != 1 {
		t.Fatalf("a valid checkpoint with an extension: %+v %v", c, err)
	}
}

// FuzzParseCheckpoint: the parser never panics, and what it accepts
// formats back to the same text.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("o\n1\nn2jnDVaqdsnGlfK1y/3Ji8dOwwfrxDmZAW7rt8/4fP0=\n")
	f.Add("ledger\n0\nn2jnDVaqdsnGlfK1y/3Ji8dOwwfrxDmZAW7rt8/4fP0=\nx\n")
	f.Add("o\n01\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := integrity.ParseCheckpoint(text)
		if err != nil {
			return
		}
		if got := c.Text(); got != text {
			t.Fatalf("parsed %q, formats back as %q", text, got)
		}
	})
}

// FuzzOpenCheckpoint: arbitrary bytes never panic and never open without
// the key's signature.
func FuzzOpenCheckpoint(f *testing.F) {
	k := newKey(f, "ledger.example")
	signed, _ := integrity.SignCheckpoint(integrity.Checkpoint{Origin: "ledger.example", Size: 3, Root: tlog.RecordHash(nil)}, k.signer)
	f.Add(signed)
	f.Add([]byte("ledger.example\n3\n\n— ledger.example AAAA\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := integrity.OpenCheckpoint(msg, k.keys)
		if err != nil {
			return
		}
		again, err := integrity.SignCheckpoint(c, k.signer)
		if err != nil {
			t.Fatalf("opened %q but cannot sign it again: %v", msg, err)
		}
		if _, err := integrity.OpenCheckpoint(again, k.keys); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifierKeyOfASignerKeyIsItsPublicKey(t *testing.T) {
	// Many keys: their base64 often holds '+', the field separator.
	for range 50 {
		skey, vkey, err := note.GenerateKey(nil, "ledger.example")
		if err != nil {
			t.Fatal(err)
		}
		got, err := integrity.VerifierKeyOf(skey + "\n")
		if err != nil || got != vkey {
			t.Fatalf("VerifierKeyOf = %q, %v; want %q", got, err, vkey)
		}
	}
	if _, err := integrity.VerifierKeyOf("PRIVATE+KEY+x+00000000+AAAA"); err == nil || strings.Contains(err.Error(), "AAAA") {
		t.Fatalf("a bad key: %v", err)
	}
}

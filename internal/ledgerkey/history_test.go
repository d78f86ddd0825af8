package ledgerkey_test

import (
	"golang.org/x/mod/sumdb/tlog"
	"reflect"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

func TestAnAnchoredChainTakesAFirstSignedEventOnlyByAKeyTheHistoryLists(t *testing.T) {
	own, old, mallory := genKey(t), genKey(t), genKey(t)
	rev := events.TokenRevoked{Reason: events.ReasonDeleted}
	rotation := func(from, to *ledgerkey.Key) events.KeyRotated {
		return events.KeyRotated{Previous: from.VerifierKey(), Key: to.VerifierKey()}
	}
	type step struct {
		p events.Payload
		k *ledgerkey.Key
	}
	tests := []struct {
		name    string
		history ledgerkey.History
		steps   []step
		badSeq  uint64 // 0: every event passes
	}{
		{"a_planted_rotation_from_an_unlisted_key", ledgerkey.History{Keys: []string{own.VerifierKey()}},
			[]step{{rev, mallory}, {rotation(mallory, own), mallory}, {rev, own}}, 1},
		{"a_retired_key_the_history_lists", ledgerkey.History{Keys: []string{old.VerifierKey(), own.VerifierKey()}},
			[]step{{rev, old}, {rotation(old, own), old}, {rev, own}}, 0},
		{"the_key_files_key_unlisted", ledgerkey.History{Keys: []string{old.VerifierKey()}},
			[]step{{rev, own}, {rev, own}}, 0},
		{"unsigned_through_the_history's_sequence", ledgerkey.History{UnsignedThrough: 2, Keys: []string{own.VerifierKey()}},
			[]step{{rev, nil}, {rev, nil}, {rev, own}}, 0},
		{"unsigned_after_the_history's_sequence", ledgerkey.History{UnsignedThrough: 1, Keys: []string{own.VerifierKey()}},
			[]step{{rev, nil}, {rev, nil}, {rev, own}}, 2},
		{"unsigned_then_a_planted_rotation", ledgerkey.History{UnsignedThrough: 1, Keys: []string{own.VerifierKey()}},
			[]step{{rev, nil}, {rev, mallory}, {rotation(mallory, own), mallory}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []events.Envelope
			for i, s := range tt.steps {
				var signer events.Signer
				if s.k != nil {
					signer = s.k
				}
				evs = append(evs, chainEvent(t, uint64(i+1), s.p, signer))
			}
			c, err := ledgerkey.NewChain(own.VerifierKey())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Learn(evs); err != nil {
				t.Fatal(err)
			}
			if err := c.Anchor(tt.history, own.VerifierKey()); err != nil {
				t.Fatal(err)
			}
			got := firstTamper(t, c, evs)
			switch {
			case tt.badSeq == 0 && got != nil:
				t.Fatalf("the ledger's own chain refused: %v", got)
			case tt.badSeq != 0 && (got == nil || got.Seq != tt.badSeq || got.Kind != events.TamperForged):
				t.Fatalf("got %v, want a forgery at %d", got, tt.badSeq)
			}
		})
	}
}

func TestAKeyHistoryFileReadsBackWhatWasWritten(t *testing.T) {
	a, b := genKey(t), genKey(t)
	h := ledgerkey.History{UnsignedThrough: 42, PinnedThrough: 50, PinnedRoot: tlog.RecordHash([]byte("records")),
		Keys: []string{a.VerifierKey(), b.VerifierKey()}}
	text, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ledgerkey.ParseHistory(text)
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("ParseHistory(MarshalText) = %+v, %v; want %+v", got, err, h)
	}
	if !got.Lists(a.ID()) || !got.Lists(b.ID()) || got.Lists(genKey(t).ID()) {
		t.Errorf("Lists does not answer by the keys listed")
	}
	if got.Add(a.VerifierKey()) || len(got.Keys) != 2 {
		t.Errorf("Add repeated a listed key")
	}
}

func TestAKeyHistoryFileInAnotherFormIsRefused(t *testing.T) {
	k := genKey(t).VerifierKey()
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"comments_only", "# nothing\n"},
		{"no_key", "unsigned-through 3\n"},
		{"no_sequence", "key " + k + "\n"},
		{"two_sequences", "unsigned-through 0\nunsigned-through 1\nkey " + k + "\n"},
		{"sequence_after_a_key", "unsigned-through 0\nkey " + k + "\nunsigned-through 1\n"},
		{"negative_sequence", "unsigned-through -1\nkey " + k + "\n"},
		{"not_a_key", "unsigned-through 0\nkey tokenledger+00000000+AAAA\n"},
		{"a_private_key", "unsigned-through 0\nkey PRIVATE+KEY+x+00000000+AAAA\n"},
		{"unknown_line", "unsigned-through 0\nkey " + k + "\ntrust everything\n"},
		{"pinned_zero", "unsigned-through 0\npinned 0 " + tlog.RecordHash([]byte("x")).String() + "\nkey " + k + "\n"},
		{"pinned_without_a_root", "unsigned-through 0\npinned 5\nkey " + k + "\n"},
		{"pinned_twice", "unsigned-through 0\npinned 5 " + tlog.RecordHash([]byte("x")).String() + "\npinned 6 " + tlog.RecordHash([]byte("x")).String() + "\nkey " + k + "\n"},
		{"pinned_after_a_key", "unsigned-through 0\nkey " + k + "\npinned 5 " + tlog.RecordHash([]byte("x")).String() + "\n"},
		{"overlong_line", "unsigned-through 0\nkey " + k + strings.Repeat("A", 5000) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := ledgerkey.ParseHistory([]byte(tc.text)); err == nil {
				t.Errorf("ParseHistory(%q) = %+v, want an error", tc.text, h)
			}
		})
	}
}

func FuzzParseHistoryReadsBackWhatItWrites(f *testing.F) {
	k := "tokenledger+2963ece3+AR7777WA2Q2t95uco6LCti1TqOjKhc9mQISJvLsuIHk7"
	f.Add("unsigned-through 0\nkey " + k + "\n")
	f.Add("# c\n\n  unsigned-through 7  \r\nkey   " + k + "\nkey " + k + "\n")
	f.Add("unsigned-through 18446744073709551615\nkey " + k + "\n")
	f.Add("unsigned-through 3\npinned 9 " + tlog.RecordHash([]byte("x")).String() + "\nkey " + k + "\n")
	f.Add("unsigned-through 3\nunsigned-root 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nkey " + k + "\n")
	f.Fuzz(func(t *testing.T, text string) {
		h, err := ledgerkey.ParseHistory([]byte(text))
		if err != nil {
			return
		}
		out, err := h.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText of a parsed history: %v", err)
		}
		again, err := ledgerkey.ParseHistory(out)
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("ParseHistory(MarshalText(%+v)) = %+v, %v", h, again, err)
		}
		sealed, err := h.Seal(fuzzKey)
		if err != nil {
			t.Fatal(err)
		}
		if opened, err := ledgerkey.OpenHistory(sealed, fuzzKey); err != nil || !reflect.DeepEqual(opened, h) {
			t.Fatalf("OpenHistory(Seal(%+v)) = %+v, %v", h, opened, err)
		}
		// The text as given, with the sealed history's MAC line: sealed
		// only when it is the very text sealed.
		_, mac, _ := strings.Cut(string(sealed), "\nmac ")
		forged := strings.TrimSuffix(text, "\n") + "\nmac " + mac
		if _, err := ledgerkey.OpenHistory([]byte(forged), fuzzKey); err == nil && strings.TrimSuffix(text, "\n")+"\n" != string(out) {
			t.Fatalf("OpenHistory took another text (%q) with the MAC of %q", text, out)
		}
	})
}

var fuzzKey = func() *ledgerkey.Key {
	k, err := ledgerkey.Generate("ledger")
	if err != nil {
		panic(err)
	}
	return k
}()

func TestASealedKeyHistoryOpensOnlyWithAKeyThatSealedIt(t *testing.T) {
	old, next, mallory := genKey(t), genKey(t), genKey(t)
	h := ledgerkey.History{UnsignedThrough: 3, Keys: []string{old.VerifierKey(), next.VerifierKey()}}
	sealed, err := h.Seal(old, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*ledgerkey.Key{old, next} {
		if got, err := ledgerkey.OpenHistory(sealed, k); err != nil || !reflect.DeepEqual(got, h) {
			t.Errorf("OpenHistory with a sealing key = %+v, %v", got, err)
		}
	}
	body, macs, _ := strings.Cut(string(sealed), "\nmac ")
	for _, tc := range []struct {
		name string
		b    string
		key  *ledgerkey.Key
	}{
		{"another_key", string(sealed), mallory},
		{"unsealed", body + "\n", old},
		{"a_key_added", body + "\nkey " + mallory.VerifierKey() + "\nmac " + macs, old},
		{"the_sequence_changed", strings.Replace(string(sealed), "unsigned-through 3", "unsigned-through 4", 1), old},
		{"a_comment_added", "# hello\n" + string(sealed), old},
		{"the_mac_under_another_id", strings.ReplaceAll(string(sealed), "mac "+old.ID(), "mac "+mallory.ID()), old},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := ledgerkey.OpenHistory([]byte(tc.b), tc.key); err == nil {
				t.Errorf("OpenHistory = %+v, want an error", got)
			}
		})
	}
}

package httpapi

import (
	"strings"
	"testing"
)

func TestNeedlesCoverEveryOccurrenceOfAGivenPart(t *testing.T) {
	n := newNeedles([]string{"Zq7kRw2mXp9LtVbN", "test-admin-secret-aaaa", "Zq7k"})
	for _, tc := range []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"Zq7kRw2mXp9LtVbN", "[secret]"},
		{"leakedZq7kRw2mXp9LtVbN2", "leaked[secret]2"},
		{"*:*.test-admin-secret-aaaa and Zq7k", "*:*.[secret] and [secret]"},
		{"Zq7", "Zq7"},
		{"test-admin-secret-aaaatest-admin-secret-aaaa", "[secret]"},
		{"", ""},
	} {
		if got := n.cover(tc.in); got != tc.want {
			t.Errorf("cover(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if got, want := n.contains(tc.in), tc.want != tc.in; got != want {
			t.Errorf("contains(%q) = %v; want %v", tc.in, got, want)
		}
	}
	var none *needles
	if none.contains("anything") || none.is("anything") || none.cover("x") != "x" {
		t.Error("no parts: something found")
	}
}

// FuzzNeedlesFindWhatStringsContainsFinds: the rolling search finds a
// part exactly when strings.Contains does.
func FuzzNeedlesFindWhatStringsContainsFinds(f *testing.F) {
	f.Add("secret-part-1", "xx secret-part-1 yy")
	f.Add("ab", "aab")
	f.Add("\xff\x00", "\x00\xff\x00")
	f.Fuzz(func(t *testing.T, part, text string) {
		if part == "" {
			return
		}
		n := newNeedles([]string{part})
		if got, want := n.contains(text), strings.Contains(text, part); got != want {
			t.Fatalf("contains(%q) with part %q = %v; want %v", text, part, got, want)
		}
		if got := n.cover(text); part != "[secret]" && (got != text) != strings.Contains(text, part) {
			t.Fatalf("cover(%q) with part %q = %q", text, part, got)
		}
	})
}

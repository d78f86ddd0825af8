package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scanDisagrees returns why Scan's reading of data differs from the
// decoding path's (Unmarshal, then the hash CheckHash recomputes), or ""
// when it agrees. A record Scan refuses agrees by definition: it takes the
// decoding path.
func scanDisagrees(data []byte) string {
	var s Scanner
	var f StoredFields
	if !s.Scan(data, &f) {
		return ""
	}
	e, err := Unmarshal(data)
	if err != nil {
		return "Scan read a record Unmarshal refuses: " + err.Error()
	}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{{"id", f.ID, e.ID}, {"type", f.Type, e.Type}, {"kind", f.Kind, e.AggregateKind}, {"aggregate", f.Aggregate, e.AggregateID},
		{"prev", f.Prev, e.Prev}, {"hash", f.Hash, e.Hash}, {"key", f.Key, e.Key}, {"sig", f.Sig, e.Sig}} {
		if string(c.got) != c.want {
			return c.name + ": Scan read " + string(c.got) + ", Unmarshal " + c.want
		}
	}
	want, err := e.computeHash()
	if err != nil {
		return "Scan hashed a record the decoding path cannot: " + err.Error()
	}
	if got := hex.EncodeToString(f.Sum[:]); got != want {
		return "canonical hash: Scan " + got + ", decoding path " + want
	}
	if f.Sealed() != (e.CheckHash() == nil) {
		return "Sealed differs from CheckHash"
	}
	return ""
}

func goldenFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/*.golden.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = bytes.TrimSpace(b)
	}
	return out
}

// Every format-2 golden file takes the fast path, reads the same through
// Scan as through Unmarshal and verifies; format-1 ones are left to the
// decoding path.
func TestScanReadsGoldenFilesAsDecodingDoes(t *testing.T) {
	for name, b := range goldenFiles(t) {
		t.Run(name, func(t *testing.T) {
			var s Scanner
			var f StoredFields
			ok := s.Scan(b, &f)
			if why := scanDisagrees(b); why != "" {
				t.Fatal(why)
			}
			if fmt2 := strings.Contains(name, ".fmt2."); ok != fmt2 || (fmt2 && !f.Sealed()) {
				t.Fatalf("format 2: %v; scanned %v, sealed %v", fmt2, ok, f.Sealed())
			}
		})
	}
}

// scanGolden is the signed format-2 token.created golden file, the base of
// the variants below.
func scanGolden(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/token.created.v1.fmt2.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// Variants of a stored event: those the decoding path reads and hashes as
// stored take the fast path, the others are left to it; in every case Scan
// agrees with the decoding path.
func TestScanTakesTheFastPathOnlyWhereDecodingAgrees(t *testing.T) {
	g := scanGolden(t)
	rep := func(old, new string) string {
		if !strings.Contains(g, old) {
			t.Fatalf("golden file lacks %q", old)
		}
		return strings.Replace(g, old, new, 1)
	}
	cases := []struct {
		name string
		data string
		fast bool // Scan reads it
	}{
		{"as_stored", g, true},
		{"escaped_quote_in_user_agent", rep(`"userAgent":"curl/8"`, `"userAgent":"curl/8 \"x\""`), true},
		{"escaped_letter_in_reason", rep(`"reason":"rotation"`, `"reason":"rot\u0061tion"`), true},
		{"escaped_html_in_payload", rep(`"name":"checkout-sdk"`, `"name":"a\u003cb\u0026c"`), true},
		{"whitespace_between_members", rep(`,"type":`, " ,\n\t\"type\" : "), true},
		{"members_in_another_order", rep(`"fmt":2,"id":"01JD0000000000000000000000",`, `"id":"01JD0000000000000000000000","fmt":2,`), true},
		{"unsigned", rep(`,"key":"0a1b2c3d","sig":"6P2quoH/kAQoDp1O7qt4CvPc7LjKP9PP5E+tGWVp2ElAppz+v+ExuTBphJuLsklMc3ncomxbvyua0DA+CSFYBQ=="`, ``), true},
		{"edited_byte_in_payload", rep(`"environment":"production"`, `"environment":"productioN"`), true},
		{"format_1", rep(`"fmt":2,`, ``), false},
		{"unknown_member", rep(`"reason":"rotation"`, `"reason":"rotation","extra":1`), false},
		{"duplicate_member", rep(`"reason":"rotation"`, `"reason":"rotation","reason":"other"`), false},
		{"member_name_in_other_case", rep(`"reason":"rotation"`, `"Reason":"rotation"`), false},
		{"escape_in_aggregate", rep(`"aggregate":"0193a5b2`, `"aggregate":"\u0030193a5b2`), false},
		{"trailing_bytes", g + "x", false},
		{"not_an_object", `["fmt",2]`, false},
		{"format_3", rep(`"fmt":2`, `"fmt":3`), false},
		{"empty_omitempty_member", rep(`"reason":"rotation"`, `"reason":""`), false},
		{"empty_actor_name", rep(`"name":"alice@example.com"`, `"name":""`), false},
		{"actor_without_id", rep(`"id":"7",`, ``), false},
		{"null_actor", rep(`"actor":{"kind":"user","id":"7","name":"alice@example.com"}`, `"actor":null`), false},
		{"unknown_via_member", rep(`"requestId":"req-1"`, `"requestId":"req-1","x":"y"`), false},
		{"time_not_in_its_shortest_form", rep(`12:00:00.123456789Z`, `12:00:00.123456789000Z`), false},
		{"time_with_offset", rep(`12:00:00.123456789Z`, `13:00:00.123456789+01:00`), true},
		{"time_with_zero_offset", rep(`12:00:00.123456789Z`, `12:00:00.123456789+00:00`), false},
		{"version_as_float", rep(`"v":1`, `"v":1.0`), false},
		{"version_with_leading_zero", rep(`"v":1`, `"v":01`), false},
		{"payload_not_an_object", g[:strings.Index(g, `"data":`)] + `"data":[1]` + g[strings.Index(g, `,"prev"`):], false},
		{"payload_with_duplicate_member", rep(`"path":"admin-api"`, `"path":"admin-api","path":"x"`), false},
		{"invalid_utf8_in_user_agent", rep(`"userAgent":"curl/8"`, "\"userAgent\":\"curl/\xff\""), false},
		{"lone_surrogate_escape", rep(`"userAgent":"curl/8"`, `"userAgent":"curl/\ud800"`), false},
		{"payload_numbers_and_literals", rep(`"path":"admin-api"`, `"path":"admin-api","n":[0,-0,-12,1e2,2.50,123456789012345678,true,false,null,{}]`), true},
		{"payload_member_names_out_of_order_and_non_ascii", rep(`"tokenType":"backend"`, `"zz":1,"é":2,"é2":3,"😀":4,"￿":5,"tokenType":"backend","ab":{"y":[],"x":{"b":1,"a":2}}`), true},
		{"payload_nested_duplicate", rep(`"path":"admin-api"`, `"path":"admin-api","o":{"a":1,"a":2}`), false},
		{"payload_deep", rep(`"path":"admin-api"`, `"path":"admin-api","o":[[[[[[[[[[[[1]]]]]]]]]]]]`), true},
		{"invalid_utf8_in_sig", rep(`"sig":"6P2q`, "\"sig\":\"\xff6P2q"), false},
		{"control_character_raw", rep(`"userAgent":"curl/8"`, "\"userAgent\":\"curl/\x01\""), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Scanner
			var f StoredFields
			ok := s.Scan([]byte(c.data), &f)
			if ok != c.fast {
				t.Errorf("fast path %v, want %v", ok, c.fast)
			}
			if why := scanDisagrees([]byte(c.data)); why != "" {
				t.Error(why)
			}
		})
	}
}

// plainUTC accepts exactly the strings that decode and re-encode to
// themselves, among times near the edges of its grammar.
func TestPlainUTCAgreesWithParseTime(t *testing.T) {
	for _, v := range []string{
		"2026-11-24T12:00:00Z", "2026-11-24T12:00:00.1Z", "2026-11-24T12:00:00.123456789Z", "2026-11-24T12:00:00.10Z",
		"2026-11-24T12:00:00.1234567891Z", "2026-11-24T12:00:00.Z", "2026-11-24T12:00:00,1Z", "2024-02-29T00:00:00Z",
		"2023-02-29T00:00:00Z", "2000-02-29T23:59:59Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-31T24:00:00Z",
		"2026-12-31T23:60:00Z", "2026-12-31T23:59:60Z", "0999-01-01T00:00:00Z", "1000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-1-01T00:00:00Z", "2026-01-01t00:00:00Z",
		"2026-01-01T00:00:00z", "2026-01-01T00:00:00+00:00", "+2026-01-01T00:00:0Z", "2026-01-01T00:00:00.-1Z",
	} {
		q := []byte(`"` + v + `"`)
		_, slow := parseTime(q)
		if fast := plainUTC(q); fast && !slow {
			t.Errorf("%s: plainUTC accepts what parseTime refuses", v)
		} else if fast != slow && v[0] != '0' && v[0] != '+' {
			t.Errorf("%s: plainUTC %v, parseTime %v", v, fast, slow)
		}
	}
}

// FuzzScanAgreesWithDecoding: for any bytes, what Scan reads is what the
// decoding path reads, and the hash it computes is the one CheckHash
// recomputes.
func FuzzScanAgreesWithDecoding(f *testing.F) {
	for _, b := range goldenFiles(f) {
		f.Add(b)
	}
	g := scanGolden(f)
	f.Add([]byte(strings.Replace(g, `"userAgent":"curl/8"`, `"userAgent":"c\"u\\rl\u2028\t"`, 1)))
	f.Add([]byte(strings.Replace(g, `"reason":"rotation"`, `"reason":"\ud83d\ude00"`, 1)))
	f.Add([]byte(strings.Replace(g, `"path":"admin-api"`, `"path":"admin-api","n":[0,-0,1.5e3,{"b":"\u00e9","a":[true,null]}],"é":1`, 1)))
	f.Add([]byte(`"2024-02-29T23:59:59.5Z"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if why := scanDisagrees(b); why != "" {
			t.Fatal(why)
		}
		if _, ok := parseTime(b); plainUTC(b) && !ok {
			t.Fatalf("plainUTC accepts %q, which does not decode and re-encode to itself", b)
		}
	})
}

// BenchmarkScan: the fast path beside the decoding path it replaces and a
// bare SHA-256 of the same bytes (the floor), in the same run:
//
//	go test -run '^$' -bench '^BenchmarkScan$' -benchmem -count 3 ./events/
func BenchmarkScan(b *testing.B) {
	data := []byte(scanGolden(b))
	b.Run("scan", func(b *testing.B) {
		var s Scanner
		var f StoredFields
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !s.Scan(data, &f) || !f.Sealed() {
				b.Fatal("golden file not sealed on the fast path")
			}
		}
	})
	b.Run("decode_and_check_hash", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			e, err := Unmarshal(data)
			if err != nil || e.CheckHash() != nil {
				b.Fatal("golden file does not verify")
			}
		}
	})
	b.Run("floor_sha256", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			_ = sha256.Sum256(data)
		}
	})
}

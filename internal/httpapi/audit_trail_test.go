package httpapi_test

// The audit trail over HTTP (issue 14): GET /api/ledger/events's filters,
// checks, cursors in both orders, and its exports (NDJSON, CSV, OCSF),
// against the real service on a real embedded NATS.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// wireEvent is the part of a ledger event the tests compare.
type wireEvent struct {
	Seq         uint64 `json:"seq"`
	ID          string `json:"id"`
	Type        string `json:"type"`
	Kind        string `json:"kind"`
	AggregateID string `json:"aggregateId"`
	Actor       struct {
		Kind, ID, Name string
	} `json:"actor"`
	Via struct {
		CredentialID string `json:"credentialId"`
		UserAgent    string `json:"userAgent"`
	} `json:"via"`
}

type wirePage struct {
	Events  []json.RawMessage `json:"events"`
	Next    *string           `json:"next"`
	Through uint64            `json:"through"`
}

func auditPage(s *servicetest.Service, query string) wirePage {
	s.T().Helper()
	r := s.Must(http.StatusOK, "GET", "/api/ledger/events?"+query, servicetest.AdminSecret, nil)
	var p wirePage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		s.T().Fatalf("page: %v: %s", err, r.Body)
	}
	if !bytes.Contains(r.Body, []byte(`"next":`)) {
		s.T().Fatalf("a page without next: %s", r.Body)
	}
	return p
}

func decodeEvents(t testing.TB, raws []json.RawMessage) []wireEvent {
	t.Helper()
	out := make([]wireEvent, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// auditAll follows the cursor through every page of query (asc or desc).
func auditAll(s *servicetest.Service, query string, desc bool) []json.RawMessage {
	s.T().Helper()
	var out []json.RawMessage
	cursor := ""
	for range 10_000 {
		q := query
		if cursor != "" {
			if desc {
				q += "&before=" + cursor
			} else {
				q += "&after=" + cursor
			}
		}
		p := auditPage(s, q)
		out = append(out, p.Events...)
		if p.Next == nil {
			return out
		}
		cursor = *p.Next
	}
	s.T().Fatal("paging does not end")
	return nil
}

func seqsOf(evs []wireEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// auditWorld is a ledger with tokens made by an admin token, a user's PAT
// and a service account's token.
type auditWorld struct {
	s              *servicetest.Service
	user, sa       servicetest.Principal
	userLedgerID   string
	tokenA, tokenB string // ids
	secrets        []string
}

func newAuditWorld(t *testing.T) *auditWorld {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	w := &auditWorld{s: s}
	w.user = s.CreateUser("auditee", "Admin")
	w.sa = s.CreateServiceAccount("robot", "Admin")
	w.secrets = append(w.secrets, servicetest.AdminSecret, w.user.Secret, w.sa.Secret)
	var secret string
	secret, w.tokenA = s.CreateToken("backend", "development", "default")
	w.secrets = append(w.secrets, secret)
	// The PAT creates token B and changes its expiry; the service account
	// revokes token A. A hostile user agent rides along.
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", w.user.Secret,
		map[string]any{"tokenName": "by-pat", "type": "backend", "environment": "production"}, "User-Agent", "=HYPERLINK(\"http://x\")")
	w.secrets = append(w.secrets, r.JSON(t)["secret"].(string))
	tok, _ := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
	w.tokenB = tok.ID
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+w.tokenB, w.user.Secret, map[string]any{"expiresAt": "2031-01-01T00:00:00Z"})
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+w.tokenA, w.sa.Secret, nil)
	u, ok := s.Dir.UserByIntID(uint64(w.user.IntID))
	if !ok {
		t.Fatal("no user")
	}
	w.userLedgerID = u.ID
	return w
}

func (w *auditWorld) patID(t *testing.T) string {
	tok, ok := w.s.Tokens.Lookup(w.user.Secret)
	if !ok {
		t.Fatal("no PAT")
	}
	return tok.ID
}

// Each filter, alone and combined, selects exactly the events the full
// trail says it should; actors are found by ledger id, Unleash integer
// id, e-mail and username.
func TestAuditQueryFiltersMatchTheTrail(t *testing.T) {
	w := newAuditWorld(t)
	s := w.s
	all := decodeEvents(t, auditAll(s, "limit=1000", false))
	pat := w.patID(t)
	pick := func(keep func(wireEvent) bool) []uint64 {
		var out []uint64
		for _, e := range all {
			if keep(e) {
				out = append(out, e.Seq)
			}
		}
		return out
	}
	byUser := func(e wireEvent) bool { return e.Actor.ID == w.userLedgerID }
	mid := all[len(all)/2].Seq
	tests := []struct {
		name  string
		query string
		want  []uint64
	}{
		{"token", "token=" + w.tokenB, pick(func(e wireEvent) bool { return e.AggregateID == w.tokenB })},
		{"credential_what_did_this_pat_do", "credential=" + pat, pick(func(e wireEvent) bool { return e.Via.CredentialID == pat })},
		{"actor_by_ledger_id", "actor=" + w.userLedgerID, pick(byUser)},
		{"actor_by_unleash_integer_id", "actor=" + strconv.Itoa(w.user.IntID), pick(byUser)},
		{"actor_by_email", "actor=auditee@example.com", pick(byUser)},
		{"actor_by_username", "actor=auditee", pick(byUser)},
		{"types_repeated", "type=token.revoked&type=token.expiry-changed",
			pick(func(e wireEvent) bool { return e.Type == "token.revoked" || e.Type == "token.expiry-changed" })},
		{"type_prefix_star", "type=user.*", pick(func(e wireEvent) bool { return strings.HasPrefix(e.Type, "user.") })},
		{"kind", "kind=serviceaccount", pick(func(e wireEvent) bool { return e.Kind == "serviceaccount" })},
		{"project_and_type", "project=default&type=token.created", pick(func(e wireEvent) bool {
			return e.Type == "token.created" && e.AggregateID == w.tokenA
		})},
		{"environment_and_actor", "environment=production&actor=" + strconv.Itoa(w.user.IntID), pick(func(e wireEvent) bool {
			return byUser(e) && e.AggregateID == w.tokenB
		})},
		{"sequence_window", fmt.Sprintf("from_seq=%d&to_seq=%d", mid, mid+2), pick(func(e wireEvent) bool { return e.Seq >= mid && e.Seq <= mid+2 })},
		{"since_far_future", "since=2999-01-01T00:00:00Z", nil},
		{"until_far_past", "until=2000-01-01T00:00:00Z", nil},
		{"contradiction", "token=" + w.tokenA + "&credential=" + pat, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, desc := range []bool{false, true} {
				q := tt.query + "&limit=2"
				want := slices.Clone(tt.want)
				if desc {
					q += "&order=desc"
					slices.Reverse(want)
				}
				got := seqsOf(decodeEvents(t, auditAll(s, q, desc)))
				if !slices.Equal(got, want) {
					t.Errorf("desc=%v: %s = %v, want %v", desc, tt.query, got, want)
				}
			}
		})
	}
}

// Malformed or unknown parameters are a 400 in the error shape, and
// append nothing.
func TestAuditQueryRejectsWhatItDoesNotUnderstand(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	tests := []struct{ name, query string }{
		{"unknown_parameter", "tokn=x"},
		{"limit_above_max", "limit=1001"},
		{"limit_zero", "limit=0"},
		{"limit_not_a_number", "limit=ten"},
		{"bad_since", "since=yesterday"},
		{"bad_until", "until=2026-13-01T00:00:00Z"},
		{"bad_after", "after=-1"},
		{"zero_before", "order=desc&before=0"},
		{"bad_from_seq", "from_seq=1e3"},
		{"bad_order", "order=random"},
		{"after_with_desc", "order=desc&after=3"},
		{"before_with_asc", "before=3"},
		{"repeated_single", "token=a&token=b"},
		{"empty_value", "project="},
		{"token_and_aggregate", "token=a&aggregate=b"},
		{"bad_format", "format=xml"},
		{"limit_on_an_export", "format=csv&limit=5"},
		{"overlong_value", "actor=" + strings.Repeat("a", 257)},
	}
	before := s.LastSeq()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do("GET", "/api/ledger/events?"+tt.query, servicetest.AdminSecret, nil)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400: %s", tt.query, r.Status, r.Body)
			}
			servicetest.CheckErrorShape(t, r)
		})
	}
	if after := s.LastSeq(); after != before {
		t.Errorf("rejected queries appended %d events", after-before)
	}
}

// Paging by cursor neither skips nor repeats an event while events are
// appended, in either order: ascending pages reach every event, and
// descending pages cover exactly the events up to the first page's newest.
func TestAuditPagingNeitherSkipsNorRepeatsUnderConcurrentAppends(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	for i := 0; i < 10; i++ {
		s.CreateToken("backend", "development")
	}
	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprint("desc=", desc), func(t *testing.T) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // a bounded writer: at most 40 tokens, at most 20 s
				defer wg.Done()
				deadline := time.Now().Add(20 * time.Second)
				for i := 0; i < 40 && time.Now().Before(deadline); i++ {
					select {
					case <-stop:
						return
					default:
					}
					r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
						map[string]any{"tokenName": "w", "type": "backend", "environment": "development"})
					if r.Status != http.StatusCreated {
						t.Errorf("append: %d %s", r.Status, r.Body)
						return
					}
				}
			}()
			q := "type=token.created&limit=3"
			if desc {
				q += "&order=desc"
			}
			got := seqsOf(decodeEvents(t, auditAll(s, q, desc)))
			close(stop)
			wg.Wait()
			if desc {
				slices.Reverse(got)
			}
			// The truth: every token.created up to the newest seen.
			var want []uint64
			for _, e := range decodeEvents(t, auditAll(s, "type=token.created&limit=1000", false)) {
				if len(got) > 0 && e.Seq <= got[len(got)-1] {
					want = append(want, e.Seq)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged %v\nwant  %v", got, want)
			}
		})
	}
}

// An export holds exactly what the pages of the same query hold, in each
// format, with the covered range in X-Ledger-Sequence-Range; CSV escapes
// formula cells; OCSF validates against the vendored OCSF 1.3.0 schema;
// no secret appears in any of them.
func TestAuditExportsEqualTheQueryExactly(t *testing.T) {
	w := newAuditWorld(t)
	s := w.s
	schema := compileOCSF(t)
	for _, query := range []string{"", "type=token.", "order=desc&type=token.&type=user.", "credential=" + w.patID(t), "token=" + w.tokenB,
		"since=2000-01-01T00:00:00Z&from_seq=3"} {
		t.Run("query="+query, func(t *testing.T) {
			nd := s.Must(http.StatusOK, "GET", "/api/ledger/events?"+query, servicetest.AdminSecret, nil, "Accept", "application/x-ndjson")
			rng := nd.Header.Get("X-Ledger-Sequence-Range")
			var first, last uint64
			if _, err := fmt.Sscanf(rng, "%d-%d", &first, &last); err != nil {
				t.Fatalf("X-Ledger-Sequence-Range %q: %v", rng, err)
			}
			desc := strings.Contains(query, "order=desc")
			pageQuery := query + "&limit=7&to_seq=" + strconv.FormatUint(last, 10)
			want := auditAll(s, strings.TrimPrefix(pageQuery, "&"), desc)
			// NDJSON: the same events, byte for byte as JSON values.
			lines := bytes.Split(bytes.TrimSuffix(nd.Body, []byte("\n")), []byte("\n"))
			if len(want) == 0 {
				lines = nil
			}
			if len(lines) != len(want) {
				t.Fatalf("ndjson has %d lines, the pages %d events", len(lines), len(want))
			}
			for i := range want {
				if !jsonEqual(t, lines[i], want[i]) {
					t.Fatalf("ndjson line %d differs:\n%s\n%s", i, lines[i], want[i])
				}
			}
			wantEvs := decodeEvents(t, want)
			// CSV: a header, then one record per event, same sequences and types.
			// Every read of the trail is recorded in it (audit.queried), so
			// the later exports are cut at the first one's end.
			window := "&to_seq=" + strconv.FormatUint(last, 10)
			c := s.Must(http.StatusOK, "GET", "/api/ledger/events?"+url.Values{"format": {"csv"}}.Encode()+"&"+query+window, servicetest.AdminSecret, nil)
			if !bytes.Contains(c.Body, []byte("\r\n")) {
				t.Error("CSV records do not end in CRLF (RFC 4180)")
			}
			recs, err := csv.NewReader(bytes.NewReader(c.Body)).ReadAll()
			if err != nil {
				t.Fatalf("CSV does not parse: %v", err)
			}
			if len(recs) != len(wantEvs)+1 || recs[0][0] != "seq" || recs[0][3] != "type" {
				t.Fatalf("CSV has %d records (header %v), want %d events", len(recs), recs[0], len(wantEvs))
			}
			for i, e := range wantEvs {
				rec := recs[i+1]
				if rec[0] != strconv.FormatUint(e.Seq, 10) || rec[3] != e.Type || rec[1] != e.ID {
					t.Fatalf("CSV record %d = %v, want seq %d type %s", i, rec[:4], e.Seq, e.Type)
				}
				for j, cell := range rec {
					if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
						t.Errorf("CSV record %d column %s starts a formula: %q", i, recs[0][j], cell)
					}
				}
				if e.Via.UserAgent != "" && rec[12] != e.Via.UserAgent && rec[12] != "'"+e.Via.UserAgent {
					t.Errorf("CSV user agent %q, want %q", rec[12], e.Via.UserAgent)
				}
			}
			// OCSF: valid, one per event, in order.
			o := s.Must(http.StatusOK, "GET", "/api/ledger/events?format=ocsf&"+query+window, servicetest.AdminSecret, nil)
			olines := bytes.Split(bytes.TrimSuffix(o.Body, []byte("\n")), []byte("\n"))
			if len(wantEvs) == 0 {
				olines = nil
			}
			if len(olines) != len(wantEvs) {
				t.Fatalf("ocsf has %d lines, want %d", len(olines), len(wantEvs))
			}
			for i, l := range olines {
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(l))
				if err != nil {
					t.Fatal(err)
				}
				if err := schema.Validate(v); err != nil {
					t.Fatalf("OCSF line %d is not valid OCSF 1.3.0: %v\n%s", i, err, l)
				}
				var ev struct {
					Unmapped struct{ Seq uint64 } `json:"unmapped"`
				}
				_ = json.Unmarshal(l, &ev)
				if ev.Unmapped.Seq != wantEvs[i].Seq {
					t.Fatalf("OCSF line %d is seq %d, want %d", i, ev.Unmapped.Seq, wantEvs[i].Seq)
				}
			}
			for _, secret := range w.secrets {
				for name, body := range map[string][]byte{"ndjson": nd.Body, "csv": c.Body, "ocsf": o.Body} {
					if bytes.Contains(body, []byte(secret)) {
						t.Errorf("the %s export holds a secret", name)
					}
				}
			}
		})
	}
}

func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		t.Fatalf("not JSON: %s / %s", a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func compileOCSF(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/ocsf-1.3.0.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("ocsf.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("ocsf.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// GET /api/ledger/state?at= takes a stream sequence as well as a time: the
// token set after that event; a malformed at is a 400.
func TestStateAtTakesASequenceOrATime(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	created := s.LastSeq()
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil)
	status := func(query string) string {
		t.Helper()
		var st struct {
			Tokens []struct{ ID, Status string } `json:"tokens"`
		}
		r := s.Must(http.StatusOK, "GET", "/api/ledger/state?"+query, servicetest.AdminSecret, nil)
		if err := json.Unmarshal(r.Body, &st); err != nil {
			t.Fatal(err)
		}
		for _, tk := range st.Tokens {
			if tk.ID == id {
				return tk.Status
			}
		}
		return "absent"
	}
	tests := []struct{ query, want string }{
		{"at=" + strconv.FormatUint(created-1, 10), "absent"},
		{"at=" + strconv.FormatUint(created, 10), "valid"},
		{"at=" + strconv.FormatUint(created+1, 10), "revoked"},
		{"seq=" + strconv.FormatUint(created, 10), "valid"},
	}
	for _, tt := range tests {
		if got := status(tt.query); got != tt.want {
			t.Errorf("%s: token %s, want %s", tt.query, got, tt.want)
		}
	}
	for _, bad := range []string{"at=yesterday", "at=0", "at=5&seq=5", "at=2026-13-01T00:00:00Z"} {
		r := s.Do("GET", "/api/ledger/state?"+bad, servicetest.AdminSecret, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, r.Status)
		}
		servicetest.CheckErrorShape(t, r)
	}
}

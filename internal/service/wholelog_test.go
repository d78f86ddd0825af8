package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// The start from a snapshot is ready before it checked the records the
// snapshot covers (wholeLogCheck). These tests hold that check back to
// see the service while it is pending, then let it run.

// startChecked starts the service on dir; with held, the whole-log check
// waits until release is called. snapshots false: no snapshot is read
// (every event replayed and checked before the service is ready).
func startChecked(t *testing.T, dir string, held, snapshots bool) (m *Main, logs *lockedBuffer, release func()) {
	t.Helper()
	logs = &lockedBuffer{}
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: logs, CheckpointInterval: time.Hour}
	if !snapshots {
		cfg.SnapshotFile = SnapshotOff
	}
	m = NewMain(cfg)
	release = func() {}
	if held {
		m.check.hold = make(chan struct{})
		var once bool
		release = func() {
			if !once {
				once = true
				close(m.check.hold)
			}
		}
	}
	t.Cleanup(func() { release(); _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	return m, logs, release
}

// tamperStop waits until the projections stopped at a tampering and
// returns it.
func tamperStopOf(t *testing.T, m *Main) *events.TamperError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Runner.WaitFor(ctx, math.MaxUint64)
	te := events.AsTamper(err)
	if te == nil {
		t.Fatalf("the projections did not stop at a tampering: %v", err)
	}
	return te
}

// text answers method path (admin credential) with its status and body.
func text(t *testing.T, m *Main, method, path string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.URL()+path, r)
	req.Header.Set("Authorization", testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// probeSays reads a probe's JSON body.
func probeSays(t *testing.T, m *Main, path string) (int, map[string]any) {
	t.Helper()
	st, b := text(t, m, "GET", path, nil)
	var out map[string]any
	_ = json.Unmarshal([]byte(b), &out)
	return st, out
}

// fullReplayFinding is what a start that replays every event names on dir:
// the tampering the projections stop at. A start the replay refuses for
// another reason (a checkpoint's root that the records before it do not
// hash to, which names no single record) is nil.
func fullReplayFinding(t *testing.T, dir string) *events.TamperError {
	t.Helper()
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard, SnapshotFile: SnapshotOff})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		if te := events.AsTamper(err); te != nil {
			return te
		}
		t.Logf("a full replay refuses the start: %v", err)
		return nil
	}
	return tamperStopOf(t, m)
}

// A data dir tampered with while the ledger was stopped, started from its
// snapshot: the service is ready before the whole-log check ran, and
// when the check runs, it stops the service naming the same sequence and
// kind that a start replaying every event names (--snapshot-file off):
// the probes answer LEDGER_TAMPERED with them, an ERROR line names them,
// every other route answers 503 and nothing is appended.
func TestWholeLogCheckAfterReadyNamesWhatAFullReplayNames(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service many times")
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, recs []fsRecord) []fsRecord
	}{
		{"byte_edit_with_the_checksum_fixed", func(t *testing.T, recs []fsRecord) []fsRecord {
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			recs[i].msg = bytes.Replace(recs[i].msg, []byte(`"reason":"`), []byte(`"reason":"X`), 1)
			return recs
		}},
		{"deletion_of_a_record", func(t *testing.T, recs []fsRecord) []fsRecord {
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			return append(recs[:i:i], recs[i+1:]...)
		}},
		{"reorder_of_a_tokens_events", func(t *testing.T, recs []fsRecord) []fsRecord {
			a, b := seqOfType(t, recs, events.TypeTokenCreated, 2), seqOfType(t, recs, events.TypeTokenRevoked, 2)
			recs[a].msg, recs[b].msg = recs[b].msg, recs[a].msg
			recs[a].hdr, recs[b].hdr = recs[b].hdr, recs[a].hdr
			recs[a].subj, recs[b].subj = recs[b].subj, recs[a].subj
			return recs
		}},
		{"forged_admin_token_in_place_of_an_event", func(t *testing.T, recs []fsRecord) []fsRecord {
			i := seqOfType(t, recs, events.TypeTokenCreated, 2)
			recs[i].msg = forgedAdminToken(t)
			env, err := events.Unmarshal(recs[i].msg)
			if err != nil {
				t.Fatal(err)
			}
			recs[i].subj = events.Subject(env.AggregateKind, env.AggregateID, env.Type)
			return recs
		}},
		{"record_moved_to_another_tokens_subject", func(t *testing.T, recs []fsRecord) []fsRecord {
			a, b := seqOfType(t, recs, events.TypeTokenRevoked, 1), seqOfType(t, recs, events.TypeTokenRevoked, 2)
			recs[a].subj = recs[b].subj
			return recs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			if _, err := os.Stat(dir + ".snapshot"); err != nil {
				t.Fatalf("the stopped ledger left no snapshot: %v", err)
			}
			path, index, recs := readBlock(t, dir)
			_, _, genuine := readBlock(t, dir)
			tampered := tt.tamper(t, recs)
			writeBlock(t, dir, path, index, tampered, true)
			recs = genuine

			// Today's finding: every event replayed and checked at start.
			want := fullReplayFinding(t, dir)

			m, logs, release := startChecked(t, dir, true, true)
			if !strings.Contains(logs.String(), "projections restored from their snapshot") {
				t.Fatalf("the start did not restore the snapshot:\n%s", logs.String())
			}
			if st, body := probeSays(t, m, "/ready"); st != http.StatusOK {
				t.Fatalf("/ready before the whole-log check: %d %v", st, body)
			}
			last, err := m.Store.LastSequence(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			release()
			if err := m.check.Wait(context.Background()); events.AsTamper(err) == nil {
				t.Fatalf("the whole-log check passed a tampered stream: %v", err)
			}
			got := tamperStopOf(t, m)
			if want == nil {
				// The check names the first record that differs.
				want = &events.TamperError{Seq: uint64(firstDifference(recs, tampered) + 1), Kind: events.TamperEdited}
			}
			if got.Seq != want.Seq || got.Kind != want.Kind {
				t.Fatalf("after ready the check names %s at %d, a full replay %s at %d", got.Kind, got.Seq, want.Kind, want.Seq)
			}
			for _, probe := range []struct {
				path   string
				status int
			}{{"/health", http.StatusOK}, {"/ready", http.StatusServiceUnavailable}} {
				st, body := probeSays(t, m, probe.path)
				if st != probe.status || body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(want.Seq) || body["kind"] != want.Kind {
					t.Errorf("%s = %d %v, want %d LEDGER_TAMPERED, %s at %d", probe.path, st, body, probe.status, want.Kind, want.Seq)
				}
			}
			// The line is written once the projections' goroutine returns,
			// after the probes already say so: wait for it (bounded).
			line := `"level":"ERROR","msg":"ledger tampered: the projections stopped`
			named := fmt.Sprintf(`"seq":%d,"kind":%q`, want.Seq, want.Kind)
			logged := func() bool { l := logs.String(); return strings.Contains(l, line) && strings.Contains(l, named) }
			for deadline := time.Now().Add(10 * time.Second); !logged() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if !logged() {
				t.Errorf("no ERROR line naming %s at %d:\n%s", want.Kind, want.Seq, logs.String())
			}
			for _, r := range []struct{ method, path string }{
				{"GET", "/api/admin/api-tokens"}, {"GET", "/api/ledger/events"}, {"POST", "/api/admin/api-tokens"},
				{"GET", "/api/ledger/checkpoint"},
			} {
				var body any
				if r.method == "POST" {
					body = map[string]any{"tokenName": "after", "type": "backend", "environment": "development"}
				}
				if st, b := text(t, m, r.method, r.path, body); st != http.StatusServiceUnavailable {
					t.Errorf("%s %s after the finding: %d %s", r.method, r.path, st, b)
				}
			}
			if now, err := m.Store.LastSequence(context.Background()); err != nil || now != last {
				t.Errorf("the stream moved from %d to %d (%v) after the finding", last, now, err)
			}
		})
	}
}

// While the whole-log check has not reached a record, nothing the service
// reads of it is used before it was checked against the snapshot's tree:
// a command folding the token's history, the token's audit trail, its
// history and its state at a past sequence refuse (503) a token whose
// token.created was edited, and show nothing of the edit; on the genuine
// ledger the same requests succeed while the check is pending.
func TestRecordsAreCheckedBeforeUseWhileTheWholeLogCheckIsPending(t *testing.T) {
	for _, tampered := range []bool{false, true} {
		t.Run(fmt.Sprint("tampered=", tampered), func(t *testing.T) {
			dir := stoppedLedger(t)
			m0, _, _ := startChecked(t, dir, false, true)
			st, out := call(t, m0, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "kept", "type": "backend", "environment": "development"})
			if st != http.StatusCreated {
				t.Fatalf("create: %d %v", st, out)
			}
			tok, _ := m0.Tokens.Lookup(out["secret"].(string))
			if err := m0.Close(); err != nil {
				t.Fatal(err)
			}
			path, index, recs := readBlock(t, dir)
			created := -1
			for i, r := range recs {
				if env, err := events.Unmarshal(r.msg); err == nil && env.Type == events.TypeTokenCreated && env.AggregateID == tok.ID {
					created = i
				}
			}
			if created < 0 {
				t.Fatal("no token.created of the kept token")
			}
			const edit = "renamed-by-the-attacker"
			if tampered {
				recs[created].msg = bytes.Replace(recs[created].msg, []byte(`"name":"kept"`), []byte(`"name":"`+edit+`"`), 1)
				writeBlock(t, dir, path, index, recs, true)
			}

			m, _, release := startChecked(t, dir, true, true)
			want := http.StatusOK
			if tampered {
				want = http.StatusServiceUnavailable
			}
			audit := []struct{ method, path string }{
				{"GET", "/api/ledger/events?token=" + tok.ID},
				{"GET", "/api/ledger/tokens/" + tok.ID + "/history"},
				{"GET", fmt.Sprintf("/api/ledger/state/tokens/%s?at=%d", tok.ID, created+1)},
				{"GET", fmt.Sprintf("/api/ledger/state?at=%d", created+1)},
			}
			// The audit trail waits for the check (a deleted record is not
			// seen by a read that does not ask for it): 503 either way.
			for _, r := range audit {
				st, b := text(t, m, r.method, r.path, nil)
				if st != http.StatusServiceUnavailable || strings.Contains(b, edit) {
					t.Errorf("%s %s while the check is pending: %d %s, want 503", r.method, r.path, st, b)
				}
			}
			for _, r := range []struct{ method, path string }{
				{"DELETE", "/api/admin/api-tokens/" + tok.ID}, // folds the token's history
			} {
				st, b := text(t, m, r.method, r.path, nil)
				if st != want || strings.Contains(b, edit) {
					t.Errorf("%s %s while the check is pending: %d %s, want %d", r.method, r.path, st, b, want)
				}
			}
			if err := m.catchUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			if now, _ := m.Tokens.ByID(tok.ID); tampered && now.Revoked {
				t.Error("the token was revoked on a tampered history")
			}
			release()
			err := m.check.Wait(context.Background())
			if !tampered {
				if err != nil || m.Runner.Err() != nil {
					t.Fatalf("the genuine ledger: check %v, projections %v", err, m.Runner.Err())
				}
				for _, r := range audit { // answered once the check passed
					if st, b := text(t, m, r.method, r.path, nil); st != http.StatusOK {
						t.Errorf("%s %s after the check passed: %d %.200s, want 200", r.method, r.path, st, b)
					}
				}
				return
			}
			if te := tamperStopOf(t, m); te.Seq != uint64(created+1) {
				t.Errorf("the check named %s at %d, the edit is at %d", te.Kind, te.Seq, created+1)
			}
		})
	}
}

// firstDifference is the index of the first record of b that is not a's
// (len of the shorter when one is a prefix of the other).
func firstDifference(a, b []fsRecord) int {
	for i := range min(len(a), len(b)) {
		if !bytes.Equal(a[i].msg, b[i].msg) || a[i].subj != b[i].subj || a[i].seq != b[i].seq {
			return i
		}
	}
	return min(len(a), len(b))
}

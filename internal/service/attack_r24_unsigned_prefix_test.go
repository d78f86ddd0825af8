package service_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// unsignedTokenCreated is the stored form of an unsigned token.created
// (an older version's, before signing) of a token for secret, copied from
// s's admin token.created.
func unsignedTokenCreated(t *testing.T, s *servicetest.Service, secret, name string) (subject string, data []byte) {
	t.Helper()
	return forgeToken(t, s, nil, secret, name)
}

// wipeBesideDataDir removes what an attacker who can write the data dir's
// parent removes to make a new stream look like the ledger's: the data dir
// and the files beside it that pin the stream (the kept tree head, its
// leaves, the projection snapshot), leaving the key file and its history.
func wipeBesideDataDir(t *testing.T, dir string) {
	t.Helper()
	keep := map[string]bool{ledgerkey.DefaultFile(dir): true, ledgerkey.HistoryFile(ledgerkey.DefaultFile(dir)): true}
	matches, err := filepath.Glob(filepath.Clean(dir) + "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range matches {
		if !keep[f] {
			if err := os.RemoveAll(f); err != nil {
				t.Fatal(err)
			}
			t.Logf("removed %s", f)
		}
	}
}

// A ledger upgraded from a version before signing takes its unsigned
// events once, at the first start that signs, and its key history says
// through which sequence (unsigned-through). That bounded how many unsigned
// events pass, not which: an attacker who can write the data dir and its
// parent replaces the stream by a new one holding as many unsigned events
// of their own (an admin token.created), removes the kept tree head and
// snapshot (a missing one is not a finding), and keeps the key file and
// its sealed history. Found (atk-r24): the anchored chain took every
// planted event and the planted admin token authenticated.
//
// Fixed: the history also pins the tree hash of the records it took
// (unsigned-root); the start refuses a stream whose records 1..N differ
// from them (edited, named at sequence 1) or end before N (a gap).
func TestAReplantedUnsignedPrefixIsNeverAccepted(t *testing.T) {
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	legacySubj1, legacy1 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-10000000000000000000000000", "legacy-1")
	legacySubj2, legacy2 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-20000000000000000000000000", "legacy-2")
	forgedSubj, forged := forgeAdminToken(t, other, nil)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	type msg struct {
		subj string
		data []byte
	}
	for _, tc := range []struct {
		name     string
		replant  []msg
		wantSeq  uint64
		wantKind string // "" : the start serves (the same records)
	}{
		{"as_many_with_a_planted_admin_token", []msg{{forgedSubj, forged}, {legacySubj2, legacy2}}, 1, events.TamperEdited},
		{"fewer_with_a_planted_admin_token", []msg{{forgedSubj, forged}}, 2, events.TamperGap},
		{"the_same_records_again", []msg{{legacySubj1, legacy1}, {legacySubj2, legacy2}}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			createStreamOffline(t, dir)
			publishOffline(t, dir, legacySubj1, legacy1) // the older version's unsigned history: two events
			publishOffline(t, dir, legacySubj2, legacy2)
			s := servicetest.Start(t, dir, nil) // the first start that signs: the key, its history (unsigned through 2)
			s.CreateToken("backend", "development")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			keyFile := ledgerkey.DefaultFile(dir)
			if h := readHistory(t, keyFile); h.UnsignedThrough != 2 {
				t.Fatalf("key history unsigned through %d, want 2", h.UnsignedThrough)
			}
			histBefore, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile))
			keyBefore, _ := os.ReadFile(keyFile)

			wipeBesideDataDir(t, dir)
			createStreamOffline(t, dir)
			for _, m := range tc.replant {
				publishOffline(t, dir, m.subj, m.data)
			}

			cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
			m, runErr := runToStop(cfg, 3*time.Second)
			defer func() { _ = m.Close() }()
			t.Logf("start: %v", runErr)
			if m.Tokens != nil {
				if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
					t.Errorf("the planted admin token (within unsigned-through) reached the token set")
				}
			}
			te := events.AsTamper(runErr)
			switch {
			case tc.wantKind == "" && runErr != nil:
				t.Errorf("start = %v, want it to serve the records the key history took", runErr)
			case tc.wantKind != "" && (te == nil || te.Seq != tc.wantSeq || te.Kind != tc.wantKind):
				t.Errorf("start = %v, want %s at sequence %d", runErr, tc.wantKind, tc.wantSeq)
			}
			if tc.wantKind == "" {
				return
			}
			if after, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile)); string(after) != string(histBefore) {
				t.Errorf("the start changed the key history")
			}
			if after, _ := os.ReadFile(keyFile); string(after) != string(keyBefore) {
				t.Errorf("the start changed the key file")
			}
		})
	}
}

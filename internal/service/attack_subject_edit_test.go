package service

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
)

// A stored record is its subject, its headers and its data; the Merkle
// leaf and the event hash cover the data only. An attacker with the data
// dir rewrites the subject of a token.revoked record (fixing the block
// checksum, which needs no secret): the revocation now files under
// another aggregate, so the subject-filtered reads (the token's history,
// the commands' aggregate loads, the audit routes) no longer see it on the
// revoked token. The data still decodes to an event whose subject is not
// the one it is stored under: that is a byte edit of the record, and
// verify and the ledger must say so.
func TestRecordStoredUnderAnotherSubjectIsTampering(t *testing.T) {
	for _, tt := range []struct {
		name    string
		subject func(env events.Envelope) string
	}{
		{"another_token", func(env events.Envelope) string {
			return strings.Replace(env.Subject(), env.AggregateID, "0193a5b2-0000-7000-8000-0000000000ee", 1)
		}},
		{"outside_the_token_subjects", func(env events.Envelope) string { return "ledger.log.moved.revoked" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			path, index, recs := readBlock(t, dir)
			i := seqOfType(t, recs, events.TypeTokenRevoked, 2)
			env, err := events.Unmarshal(recs[i].msg)
			if err != nil {
				t.Fatal(err)
			}
			if recs[i].subj != env.Subject() {
				t.Fatalf("stored under %s, the event's subject is %s", recs[i].subj, env.Subject())
			}
			recs[i].subj = tt.subject(env)
			writeBlock(t, dir, path, index, recs, true)

			code, rep := runVerify(t, "--data-dir", dir)
			if code != cli.ExitTampered || rep["seq"] != float64(i+1) {
				t.Errorf("verify: exit %d, %v at %v (%v); want exit %d naming sequence %d (stored under %s)",
					code, rep["kind"], rep["seq"], rep["detail"], cli.ExitTampered, i+1, recs[i].subj)
			}
			if err := startFails(t, dir); err == nil {
				t.Errorf("the service started with the token.revoked at %d stored under %s", i+1, recs[i].subj)
				// What the audit trail then tells about the revoked token.
				m, _ := startLedger(t, dir, 4)
				code, body := get(t, m, "/api/ledger/tokens/"+env.AggregateID+"/history", testAdmin)
				if code == http.StatusOK && !strings.Contains(string(body), events.TypeTokenRevoked) {
					t.Errorf("the revoked token's history has no token.revoked: %s", body)
				}
			}
		})
	}
}

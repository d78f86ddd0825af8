package service

import "testing"

// A record names the subject it must be stored under by its type, kind
// and aggregate members, read as the event decoder reads them.
func TestMisfiledRecordComparesTheSubjectTheDecoderDerives(t *testing.T) {
	for _, tt := range []struct {
		name, subject, data string
		misfiled            bool
	}{
		{"own_subject", "ledger.token.a-1.revoked", `{"id":"1","type":"token.revoked","v":1,"kind":"token","aggregate":"a-1","actor":{"kind":"user"}}`, false},
		{"another_aggregate", "ledger.token.a-2.revoked", `{"id":"1","type":"token.revoked","v":1,"kind":"token","aggregate":"a-1"}`, true},
		{"another_kind", "ledger.log.a-1.revoked", `{"id":"1","type":"token.revoked","v":1,"kind":"token","aggregate":"a-1"}`, true},
		{"another_type", "ledger.token.a-1.created", `{"id":"1","type":"token.revoked","v":1,"kind":"token","aggregate":"a-1"}`, true},
		{"the_last_duplicate_decides", "ledger.token.a-2.revoked", `{"aggregate":"a-2","type":"token.revoked","kind":"token","aggregate":"a-1"}`, true},
		{"member_names_in_any_case", "ledger.token.a-2.revoked", `{"type":"token.revoked","kind":"token","aggregate":"a-1","AGGREGATE":"a-2"}`, false},
		{"not_an_event_left_to_the_verifier", "ledger.token.a-2.revoked", `{"type":"token.revoked"`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := misfiledRecord(7, tt.subject, []byte(tt.data))
			if (f != nil) != tt.misfiled || f != nil && f.Seq != 7 {
				t.Errorf("misfiledRecord(%s under %s) = %v, want misfiled %v at 7", tt.data, tt.subject, f, tt.misfiled)
			}
		})
	}
}

package service

import (
	"fmt"

	fastjson "github.com/goccy/go-json"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// misfiledRecord is the finding for the record at seq when it is stored
// under a subject other than the one its event derives (nil when it is
// not, or when the data does not decode: the verifier names that). The
// subject is not covered by the event's hash, its signature or its
// Merkle leaf, so only the reader of the store sees the move: a byte edit
// of the stored record. The members are read as the event decoder reads
// them (names in any case, the last of duplicates); it costs about one
// SHA-256 of the record.
func misfiledRecord(seq uint64, subject string, data []byte) *integrity.Finding {
	var r struct {
		Type      string `json:"type"`
		Kind      string `json:"kind"`
		Aggregate string `json:"aggregate"`
	}
	if err := fastjson.Unmarshal(data, &r); err != nil || r.Type == "" || r.Kind == "" || r.Aggregate == "" {
		return nil
	}
	if events.SubjectIs(subject, r.Kind, r.Aggregate, r.Type) {
		return nil
	}
	return &integrity.Finding{Seq: seq, Kind: integrity.KindByteEdit,
		Detail: fmt.Sprintf("the %s event is stored under %s, not under its subject %s", r.Type, subject, events.Subject(r.Kind, r.Aggregate, r.Type))}
}

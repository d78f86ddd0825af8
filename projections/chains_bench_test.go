package projections_test

// The chain check's cost per event beside the token set's Apply of the
// same events, interleaved in one run:
//
//	go test -run '^$' -bench '^BenchmarkChainsApply$' -benchtime 5x ./projections/

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

func BenchmarkChainsApply(b *testing.B) {
	const n = 20_000
	evs := make([]events.Envelope, 0, n)
	var ids, prev []string
	exp := time.Now().Add(24 * time.Hour)
	for i := range n {
		var e events.Envelope
		switch i % 10 {
		case 3, 6:
			k := len(ids) - 1
			e = storetest.Event(b, ids[k], events.TokenExpiryChanged{New: &exp}, prev[k])
			prev[k] = e.Hash
		case 8, 9:
			k := len(ids) - 1 - i%2
			e = storetest.Event(b, ids[k], events.TokenRevoked{Reason: events.ReasonDeleted}, prev[k])
			prev[k] = e.Hash
		default:
			id := storetest.NewAggregateID()
			c := storetest.TokenCreated()
			c.Verifier = events.VerifierHex(fmt.Sprintf("default:development.%056x", i))
			e = storetest.Event(b, id, c, "")
			ids, prev = append(ids, id), append(prev, e.Hash)
		}
		e.Sequence = uint64(i + 1)
		evs = append(evs, e)
	}
	for round := range 3 {
		b.Run(fmt.Sprint("chains/", round), func(b *testing.B) {
			for b.Loop() {
				c := projections.NewChains()
				for _, e := range evs {
					if err := c.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
		b.Run(fmt.Sprint("tokenset_floor/", round), func(b *testing.B) {
			for b.Loop() {
				s := tokenset.New()
				for _, e := range evs {
					if err := s.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

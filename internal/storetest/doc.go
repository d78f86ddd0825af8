// Package storetest is the conformance suite for tokenledger's event store
// and projection source: [Run] checks that an implementation of
// commands.EventStore and projections.Source keeps the ports' contracts
// (round trips, optimistic concurrency, idempotent retries, atomic
// batches, ordered replay and following).
//
// An adapter's test calls Run with a function that opens a fresh, empty
// store per subtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (commands.EventStore, projections.Source) {
//			s := open(t) // fresh server or stream, closed by t.Cleanup
//			return s, s
//		})
//	}
//
// The package also builds sealed, realistic envelopes for tests and
// benchmarks ([Event], [TokenCreated]).
package storetest

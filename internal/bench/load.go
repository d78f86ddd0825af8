package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sample is what one run of a workload measured: the latency of every
// operation that completed, and how long the run took.
type sample struct {
	lat     []time.Duration
	elapsed time.Duration
}

// add merges o into s (rounds of the same workload).
func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.elapsed += o.elapsed
}

// rate is operations per second over the run's wall time.
func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(len(s.lat)) / s.elapsed.Seconds()
}

// percentile is the p-th percentile (nearest rank) of ds; 0 for none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}

// runLoad calls op from conc goroutines until count operations completed,
// limit passed or ctx ended, whichever comes first, and returns the
// latencies of those that completed. The first error stops the run and is
// returned. op gets the operation's index, from 0, unique in the run.
func runLoad(ctx context.Context, conc, count int, limit time.Duration, op func(ctx context.Context, i int) error) (sample, error) {
	if conc < 1 || count < 1 {
		return sample{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, count)
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range min(conc, count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				t := time.Now()
				err := op(ctx, i)
				if err != nil {
					if ctx.Err() != nil {
						return // the time bound, not a failure
					}
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				mine = append(mine, time.Since(t))
			}
		}()
	}
	wg.Wait()
	return sample{lat: lat, elapsed: time.Since(start)}, firstErr
}

// interleave runs ours and floor alternately, rounds times each, every
// round with its share of count and limit, so that both see the same load
// on the machine; it returns both merged.
func interleave(ctx context.Context, rounds, count int, limit time.Duration, ours, floor func(ctx context.Context, count int, limit time.Duration) (sample, error)) (o, f sample, err error) {
	rounds = max(rounds, 1)
	per, perLimit := max(count/rounds, 1), limit/time.Duration(rounds)
	for r := range rounds {
		if ctx.Err() != nil {
			break
		}
		if s, err := ours(ctx, per, perLimit); err != nil {
			return o, f, fmt.Errorf("round %d: %w", r+1, err)
		} else {
			o.add(s)
		}
		if floor == nil {
			continue
		}
		if s, err := floor(ctx, per, perLimit); err != nil {
			return o, f, fmt.Errorf("round %d, floor: %w", r+1, err)
		} else {
			f.add(s)
		}
	}
	return o, f, nil
}

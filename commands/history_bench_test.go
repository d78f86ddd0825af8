// A command's cost against the history of the aggregate it touches
// (issue 16, item 1): one aggregate per size is seeded with 10, 1,000 and
// 10,000 prior events, each with its own warm handler; every iteration
// runs the floor and the command on each aggregate, interleaved, and the
// medians are reported (µs) with the ratios prior10000/prior10 and
// prior10/floor. The floor is a raw Direct Get of one message plus one
// append of the same bytes with the same headers (an atomic batch of 3
// for the rename, which appends three events).
//
//	go test -run '^$' -bench '^BenchmarkCommandHistory$' -benchtime 200x ./commands/
//
// The "uncached" rows are the handler without its state cache (every
// command folds the whole history, as before); they run the 10 and 1,000
// sizes only unless TOKENLEDGER_BENCH_UNCACHED_10K is set.
package commands_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// benchLedger is an embedded server on loopback, the store on it, and a
// raw JetStream handle for the floor.
type benchLedger struct {
	ctx    context.Context
	store  *jsstore.Store
	js     jetstream.JetStream
	stream jetstream.Stream
}

func startBenchLedger(b *testing.B, syncAlways bool) *benchLedger {
	b.Helper()
	ctx := context.Background()
	srv, err := jsstore.StartEmbedded(ctx, jsstore.EmbeddedConfig{DataDir: b.TempDir(), Listen: "127.0.0.1:0", SyncAlways: syncAlways,
		FeedPassword: "bench-feed", OwnerPassword: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(jsstore.OwnerUser, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	st, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	stream, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		b.Fatal(err)
	}
	return &benchLedger{ctx: ctx, store: st, js: js, stream: stream}
}

// seed appends n chained events of aggregate id, the i-th with payload
// p(i), in atomic batches, and returns the last one's sequence.
func (l *benchLedger) seed(b *testing.B, id string, n int, p func(i int) events.Payload) uint64 {
	b.Helper()
	prev, last := "", uint64(0)
	for i := 0; i < n; {
		batch := make([]commands.Append, 0, min(n-i, jsstore.MaxBatch))
		for ; i < n && len(batch) < jsstore.MaxBatch; i++ {
			e := storetest.Event(b, id, p(i), prev)
			prev = e.Hash
			batch = append(batch, commands.Append{Event: e, Expected: last, MsgID: e.ID})
		}
		stored, err := l.store.Append(l.ctx, batch...)
		if err != nil {
			b.Fatalf("seed %s: %v", id, err)
		}
		last = stored.Seq
	}
	return last
}

// historyCase is one command on an aggregate of one kind seeded with
// prior events; op runs the command of iteration i.
type historyCase struct {
	name string
	seed func(b *testing.B, l *benchLedger, id string, prior int)
	op   func(ctx context.Context, h *commands.Handler, id string, i int) error
}

var historyCases = []historyCase{
	{
		name: "token-expiry",
		seed: func(b *testing.B, l *benchLedger, id string, prior int) {
			l.seed(b, id, prior, func(i int) events.Payload {
				if i == 0 {
					p := storetest.TokenCreated()
					p.ExpiresAt = nil
					return p
				}
				exp := time.Now().Add(time.Duration(i) * time.Hour).UTC()
				return events.TokenExpiryChanged{New: &exp}
			})
		},
		op: func(ctx context.Context, h *commands.Handler, id string, i int) error {
			exp := time.Now().Add(time.Duration(i+1) * 24 * time.Hour)
			_, err := h.ChangeExpiry(ctx, benchMeta(), commands.ChangeExpiry{TokenID: id, ExpiresAt: &exp})
			return err
		},
	},
	{
		name: "user-role",
		seed: func(b *testing.B, l *benchLedger, id string, prior int) {
			l.seed(b, id, prior, func(i int) events.Payload {
				if i == 0 {
					return events.UserCreated{Username: "u-" + id, Email: id + "@example.com", RootRole: events.RoleViewer}
				}
				return events.UserRoleChanged{RootRole: userRole(i), Previous: userRole(i - 1)}
			})
		},
		op: func(ctx context.Context, h *commands.Handler, id string, i int) error {
			_, err := h.ChangeUserRole(ctx, benchMeta(), commands.ChangeUserRole{UserID: id, RootRole: userRole(i + 1)})
			return err
		},
	},
	{
		// A role renamed between two names whose claim aggregates each
		// have the prior events (claimed and released by turns): every
		// rename reads both and appends to both.
		name: "name-claim",
		seed: func(b *testing.B, l *benchLedger, id string, prior int) {
			holder := events.Owner{Kind: events.KindRole, ID: id}
			claims := func(name string, heldAtEnd bool) {
				l.seed(b, events.NameID(events.ScopeRoleName, name), prior, func(i int) events.Payload {
					if ((prior-1-i)%2 == 0) == heldAtEnd {
						return events.NameClaimed{Scope: events.ScopeRoleName, Name: name, Holder: holder}
					}
					return events.NameReleased{}
				})
			}
			claims(id+"-a", true)
			claims(id+"-b", false)
			l.seed(b, id, 1, func(int) events.Payload {
				return events.RoleCreated{Name: id + "-a", Type: events.RoleTypeRoot}
			})
		},
		op: func(ctx context.Context, h *commands.Handler, id string, i int) error {
			name := id + "-b"
			if i%2 == 1 {
				name = id + "-a"
			}
			_, err := h.UpdateRole(ctx, benchMeta(), commands.UpdateRole{RoleID: id, Name: name})
			return err
		},
	},
}

func userRole(i int) string {
	if i%2 == 0 {
		return events.RoleViewer
	}
	return events.RoleEditor
}

func benchMeta() commands.Meta {
	return commands.Meta{Actor: events.Actor{Kind: events.ActorUser, ID: "42"}, Via: events.Via{CredentialID: "pat-7"}}
}

var historySizes = []int{10, 1000, 10000}

// variant is one interleaved measurement: its median is reported.
type variant struct {
	name string
	run  func(i int) error
	took []time.Duration
}

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2])
}

func BenchmarkCommandHistory(b *testing.B) {
	for _, mode := range []struct {
		name       string
		syncAlways bool
	}{{"sync=always", true}, {"sync=default", false}} {
		b.Run(mode.name, func(b *testing.B) {
			l := startBenchLedger(b, mode.syncAlways)
			for _, tc := range historyCases {
				for _, cached := range []bool{true, false} {
					name := tc.name
					if !cached {
						name += "-uncached"
					}
					b.Run(name, func(b *testing.B) { benchHistory(b, l, tc, cached) })
				}
			}
		})
	}
}

// benchHistory runs, in each iteration and in rotating order, the floor
// and tc's command on one aggregate per history size, and reports each
// one's median (µs) and the ratios that matter: largest history to
// smallest, smallest to the floor. Interleaving puts every variant under
// the same load from the machine's other work.
func benchHistory(b *testing.B, l *benchLedger, tc historyCase, cached bool) {
	shape := 1
	if tc.name == "name-claim" {
		shape = 3 // a rename appends the role and two name claims atomically
	}
	vs := []*variant{{name: "floor", run: newFloor(b, l, shape)}}
	for _, prior := range historySizes {
		if !cached && prior > 1000 && os.Getenv("TOKENLEDGER_BENCH_UNCACHED_10K") == "" {
			continue
		}
		id := storetest.NewAggregateID()
		tc.seed(b, l, id, prior)
		cfg := commands.Config{}
		if !cached {
			cfg.StateCache = -1
		}
		h := commands.NewHandler(l.store, cfg)
		if err := tc.op(l.ctx, h, id, 0); err != nil { // the cold load
			b.Fatal(err)
		}
		vs = append(vs, &variant{name: fmt.Sprintf("prior%d", prior), run: func(i int) error { return tc.op(l.ctx, h, id, i) }})
	}
	i := 1
	for b.Loop() {
		for k := range vs {
			v := vs[(i+k)%len(vs)]
			start := time.Now()
			if err := v.run(i); err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			v.took = append(v.took, time.Since(start))
		}
		i++
	}
	for _, v := range vs {
		b.ReportMetric(median(v.took)/1e3, v.name+"-µs")
	}
	last := vs[len(vs)-1]
	b.ReportMetric(median(last.took)/median(vs[1].took), last.name+"/prior10")
	b.ReportMetric(median(vs[1].took)/median(vs[0].took), "prior10/floor")
}

// newFloor returns the floor's operation: one Direct Get of a stored event plus one append of its
// bytes with the headers an append carries (stream, msg id, the
// aggregate's expectation): the two round trips a command cannot avoid.
// With n > 1 the append is an atomic batch of n such messages, one per
// aggregate (a rename's shape: the role and two name claims).
func newFloor(b *testing.B, l *benchLedger, n int) func(i int) error {
	ids := make([]string, n)
	last := make([]uint64, n)
	for k := range ids {
		ids[k] = storetest.NewAggregateID()
		last[k] = l.seed(b, ids[k], 1, func(int) events.Payload { return storetest.TokenCreated() })
	}
	return func(i int) error {
		msgs := make([]*nats.Msg, n)
		for k, id := range ids {
			filter := events.AggregateFilter(events.KindToken, id)
			var data []byte
			var subject string
			if k == 0 {
				msg, err := l.stream.GetLastMsgForSubject(l.ctx, filter)
				if err != nil {
					return err
				}
				data, subject = msg.Data, msg.Subject
			} else {
				data, subject = msgs[0].Data, strings.Replace(msgs[0].Subject, ids[0], id, 1)
			}
			m := nats.NewMsg(subject)
			m.Data = data
			m.Header.Set(jetstream.ExpectedStreamHeader, jsstore.DefaultStream)
			m.Header.Set(jetstream.MsgIDHeader, "floor-"+id+"-"+strconv.Itoa(i))
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last[k], 10))
			m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter)
			msgs[k] = m
		}
		if n == 1 {
			ack, err := l.js.PublishMsg(l.ctx, msgs[0])
			if err != nil {
				return err
			}
			last[0] = ack.Sequence
			return nil
		}
		ack, err := jetstreamext.PublishMsgBatch(l.ctx, l.js, msgs)
		if err != nil {
			return err
		}
		for k := range last {
			last[k] = ack.Sequence - uint64(n-1-k)
		}
		return nil
	}
}

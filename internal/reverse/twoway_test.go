package reverse_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// TestTwoWayNoLoop runs sync (PostgreSQL -> SurrealDB) and reverse
// (SurrealDB -> PostgreSQL) on the same table, writes on both sides
// (different keys), and checks that both databases end up equal and that
// no change looped: each pipeline applied exactly the changes written on
// its source side and suppressed exactly the echoes of the other's.
func TestTwoWayNoLoop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := startTwoWay(t, "last_writer_wins")
	f, fwd, syncCaughtUp := w.f, w.fwd, w.syncCaughtUp
	stop := w.stop
	copied := sum(f.metrics.CopiedRows.WithLabelValues("item"))
	base := changes(fwd)
	baseLoops := sum(fwd.LoopsSuppressed)

	// PostgreSQL side: 3 inserts, 2 updates, 1 delete = 6 row changes.
	f.exec(`INSERT INTO item VALUES (10, 'pg10', 10), (11, 'pg11', 11), (12, 'pg12', 12)`)
	f.exec(`UPDATE item SET qty = qty + 100 WHERE id IN (1, 10)`)
	f.exec(`DELETE FROM item WHERE id = 11`)
	// SurrealDB side: 3 creates, 1 update, 1 delete = 5 record changes.
	f.query(`CREATE item:20 SET name = 'sur20', qty = 20;
BEGIN; CREATE item:21 SET name = 'sur21', qty = 21; CREATE item:22 SET name = 'sur22', qty = 22; COMMIT;
UPDATE item:2 SET qty = 200;
DELETE item:22;`, nil)

	// Both directions settle (each twice: an echo of the other's last
	// changes may still be on its way).
	for range 2 {
		syncCaughtUp()
		f.caughtUp(30 * time.Second)
	}

	pgRows := func() []string {
		rows, err := f.pool.Query(ctx, `SELECT id, name, qty FROM item ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var id int64
			var name string
			var qty int
			err := r.Scan(&id, &name, &qty)
			return fmt.Sprintf("%d %s %d", id, name, qty), err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	res, err := surrealdb.Query[[]map[string]any](ctx, f.cl.DB, `SELECT record::id(id) AS id, name, qty FROM item ORDER BY id`, nil)
	if err != nil {
		t.Fatal(err)
	}
	var surRows []string
	for _, r := range (*res)[0].Result {
		surRows = append(surRows, fmt.Sprintf("%v %v %v", r["id"], r["name"], r["qty"]))
	}
	want := []string{"1 one 101", "2 two 200", "10 pg10 110", "12 pg12 12", "20 sur20 20", "21 sur21 21"}
	if got := pgRows(); !slices.Equal(got, want) {
		t.Errorf("PostgreSQL: %v, want %v", got, want)
	}
	if !slices.Equal(surRows, want) {
		t.Errorf("SurrealDB: %v, want %v", surRows, want)
	}
	// No loops: sync applied the 6 PostgreSQL changes and suppressed the
	// 5 the reverse direction wrote; reverse applied the 5 SurrealDB
	// changes and suppressed the 6 echoes of sync's.
	if got := changes(fwd) - base; got != 6 {
		t.Errorf("sync applied %v changes, want 6", got)
	}
	if got := sum(fwd.LoopsSuppressed) - baseLoops; got != 5 {
		t.Errorf("sync suppressed %v echoes, want 5", got)
	}
	revApplied := 0.0
	for _, op := range []string{"update", "delete"} {
		revApplied += sum(f.metrics.Changes.WithLabelValues("item", op))
	}
	if revApplied != 5 {
		t.Errorf("reverse applied %v changes, want 5", revApplied)
	}
	if got := sum(f.metrics.LoopsSuppressed); got != 6 {
		t.Errorf("reverse suppressed %v echoes, want 6", got)
	}
	t.Logf("reverse copied %v records at start", copied)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// twoWay is a two-way table `item` replicated by sync and reverse, both
// running in-process, caught up.
type twoWay struct {
	f            *fixture
	fwd          *pgsync.Metrics
	syncCaughtUp func()
	stop         func() error
}

func startTwoWay(t *testing.T, policy string) *twoWay {
	ctx := context.Background()
	f := newFixture(t, "", config.ReverseTable{Name: "item", Target: "public.item", TwoWay: true, Conflict: policy})
	f.exec(`CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, qty int)`)
	f.exec(`INSERT INTO item VALUES (1, 'one', 1), (2, 'two', 2)`)
	f.metrics = reverse.NewMetrics(nil)

	// sync first: it copies the two rows and streams.
	sc := config.Default().Sync
	// Slots are cluster-wide: the test database's name is unique.
	slot := f.pg.Database
	sc.Slot, sc.Publication, sc.Include = slot, "twoway", []string{"public.item"}
	sc.Heartbeat.Duration, sc.StatusInterval.Duration = 100*time.Millisecond, 100*time.Millisecond
	fwd := pgsync.NewMetrics(nil)
	sctx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	var syncErr error
	go func() {
		syncErr = pgsync.Run(sctx, pgsync.Options{Postgres: f.pg, Surreal: f.sur, Sync: sc, Metrics: fwd, Log: testLog(),
			SkipOrigin: f.rev.OriginFor(f.pg.Database)})
		close(syncDone)
	}()
	t.Cleanup(func() {
		stopSync()
		<-syncDone
		_, _ = f.pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
	})
	syncCaughtUp := func() {
		t.Helper()
		var s string
		if err := f.pool.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
			t.Fatal(err)
		}
		target, _ := cdc.ParseLSN(s)
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, err := surrealdb.Query[[]any](ctx, f.cl.DB, "SELECT VALUE lsn FROM type::record('_pgsurreal_position', $slot) WHERE phase = 'streaming'", map[string]any{"slot": slot})
			if err == nil && len((*res)[0].Result) == 1 {
				var lsn int64
				fmt.Sscan(fmt.Sprint((*res)[0].Result[0]), &lsn)
				if cdc.LSN(lsn) >= target {
					return
				}
			}
			select {
			case <-syncDone:
				t.Fatalf("sync stopped: %v", syncErr)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("sync did not catch up to %s", target)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	syncCaughtUp()
	stop := f.start()
	f.caughtUp(30 * time.Second)
	syncCaughtUp()
	return &twoWay{f: f, fwd: fwd, syncCaughtUp: syncCaughtUp, stop: stop}
}

// changes sums sync's applied row changes.
func changes(m *pgsync.Metrics) float64 {
	return sum(m.Changes)
}

// sum adds up the counters a collector holds.
func sum(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	total := 0.0
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err == nil {
			total += d.GetCounter().GetValue()
		}
	}
	return total
}

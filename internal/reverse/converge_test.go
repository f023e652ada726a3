package reverse_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"
)

// TestConvergence writes concurrently on both sides of a two-way table,
// with deliberate same-key conflicts (30 keys shared by four writers), for
// 60 s under last_writer_wins and 20 s under each fixed policy. After the
// writers stop and both directions settle, both databases hold the same
// rows, every logged conflict was decided by the policy, and no change
// looped: reverse applied exactly the SurrealDB writes, sync exactly the
// PostgreSQL writes plus the repairs.
func TestConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	long := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("PGSURREAL_TEST_CONVERGE")); err == nil {
		long = d
	}
	for _, tc := range []struct {
		policy string
		d      time.Duration
	}{{"last_writer_wins", long}, {"postgres", long / 3}, {"surreal", long / 3}} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			converge(t, tc.policy, tc.d)
		})
	}
}

// pace spaces each writer's writes (at most 250/s each, 1,000/s in all):
// enough to collide on 30 keys all the time, without starving the
// package's other tests of the machine's 2 cores.
const pace = 4 * time.Millisecond

func converge(t *testing.T, policy string, d time.Duration) {
	ctx := context.Background()
	w := startTwoWay(t, policy)
	f := w.f
	fwdBase := changes(w.fwd)

	// Writers stop at the deadline between writes, never inside one, so
	// every write counted happened and every write that happened counts.
	lctx := ctx
	deadline := time.Now().Add(d)
	running := func() bool { return time.Now().Before(deadline) }
	var pgWrites, surWrites, seq atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 2 {
		wg.Add(2)
		go func() { // PostgreSQL writer
			defer wg.Done()
			if os.Getenv("PROBE_SIDE") == "sur" {
				return
			}
			r := rand.New(rand.NewPCG(uint64(i), 1))
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for running() {
				<-tick.C
				k := 1 + r.IntN(30)
				n := seq.Add(1)
				var err error
				if r.IntN(5) == 0 {
					var rows pgx.Rows
					rows, err = f.pool.Query(lctx, `DELETE FROM item WHERE id = $1 RETURNING id`, k)
					if err == nil {
						for rows.Next() {
							pgWrites.Add(1)
						}
						rows.Close()
						err = rows.Err()
					}
				} else {
					_, err = f.pool.Exec(lctx, `INSERT INTO item VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, qty = EXCLUDED.qty`, k, fmt.Sprintf("pg%d", n), n)
					if err == nil {
						pgWrites.Add(1)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("postgres writer: %w", err)
					return
				}
			}
		}()
		go func() { // SurrealDB writer
			defer wg.Done()
			if os.Getenv("PROBE_SIDE") == "pg" {
				return
			}
			r := rand.New(rand.NewPCG(uint64(i), 2))
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for running() {
				<-tick.C
				k := 1 + r.IntN(30)
				n := seq.Add(1)
				if r.IntN(5) == 0 {
					res, err := surrealdb.Query[[]any](lctx, f.cl.DB, `DELETE type::record('item', $k) RETURN BEFORE`, map[string]any{"k": k})
					if retried(err) {
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("surreal writer: %w", err)
						return
					}
					surWrites.Add(int64(len((*res)[0].Result)))
				} else {
					_, err := surrealdb.Query[any](lctx, f.cl.DB, `UPSERT type::record('item', $k) SET name = $name, qty = $qty RETURN NONE`,
						map[string]any{"k": k, "name": fmt.Sprintf("sur%d", n), "qty": n})
					if retried(err) {
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("surreal writer: %w", err)
						return
					}
					surWrites.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Settle: each direction catches up with the other's last writes and
	// with the repairs those cause, until a round changes nothing.
	var rows []string
	for round := 0; ; round++ {
		w.syncCaughtUp()
		f.caughtUp(time.Minute)
		now := bothRows(t, f)
		if slices.Equal(now, rows) && round > 1 {
			break
		}
		if round > 20 {
			t.Fatal("both sides did not settle")
		}
		rows = now
	}
	pg, sur := rowsOf(t, f)
	if !slices.Equal(pg, sur) {
		t.Errorf("PostgreSQL and SurrealDB differ:\n  postgres %v\n  surreal  %v", pg, sur)
	}

	var total, wrong int
	err := f.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE winner <> CASE
  WHEN policy = 'last_writer_wins' THEN CASE WHEN postgres_time >= surreal_time OR surreal_time IS NULL THEN 'postgres' ELSE 'surreal' END
  ELSE policy END OR policy <> $1)
FROM pgsurreal.conflict_log`, policy).Scan(&total, &wrong)
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 {
		t.Error("no conflict was logged: the writers did not collide")
	}
	if wrong != 0 {
		t.Errorf("%d of %d conflicts were not decided by policy %s", wrong, total, policy)
	}
	repairs := sum(f.metrics.Repairs)
	revApplied := sum(f.metrics.Changes)
	fwdApplied := changes(w.fwd) - fwdBase
	t.Logf("%s: %d PostgreSQL writes, %d SurrealDB writes, %d conflicts, %v repairs; sync applied %v, reverse applied %v; %d rows",
		policy, pgWrites.Load(), surWrites.Load(), total, repairs, fwdApplied, revApplied, len(pg))
	if revApplied != float64(surWrites.Load()) {
		t.Errorf("reverse applied %v changes, SurrealDB writers made %d", revApplied, surWrites.Load())
	}
	if fwdApplied != float64(pgWrites.Load())+repairs {
		t.Errorf("sync applied %v changes, PostgreSQL writers made %d and repairs %v", fwdApplied, pgWrites.Load(), repairs)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// rowsOf reads the table on both sides as "id name qty" lines.
func rowsOf(t *testing.T, f *fixture) (pg, sur []string) {
	t.Helper()
	ctx := context.Background()
	rows, err := f.pool.Query(ctx, `SELECT id, name, qty FROM item ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	pg, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id int64
		var name string
		var qty int64
		err := r.Scan(&id, &name, &qty)
		return fmt.Sprintf("%d %s %d", id, name, qty), err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := surrealdb.Query[[]map[string]any](ctx, f.cl.DB, `SELECT record::id(id) AS id, name, qty FROM item ORDER BY id`, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range (*res)[0].Result {
		sur = append(sur, fmt.Sprintf("%v %v %v", r["id"], r["name"], r["qty"]))
	}
	return pg, sur
}

func bothRows(t *testing.T, f *fixture) []string {
	pg, sur := rowsOf(t, f)
	return append(append(pg, "|"), sur...)
}

// retried reports a SurrealDB write conflict between the writers: the
// write did not happen and is simply not counted.
func retried(err error) bool {
	return err != nil && strings.Contains(err.Error(), "can be retried")
}

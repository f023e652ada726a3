package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// liveFixture is a fixture with the sync (and optionally the reverse
// direction) running in-process, and the cache on when redis is set.
type liveFixture struct {
	*fixture
	sync config.Sync
	iv   *Invalidator
}

// cacheConfig is a cache section with a prefix of the test's own.
func cacheConfig(t *testing.T) config.Cache {
	c := config.Default().Federation.Cache
	c.Redis = "redis://127.0.0.1:6379/0"
	c.Prefix = "pgsurreal-test:" + testenv.Name(t) + ":"
	return c
}

func newLiveFixture(t *testing.T, fc config.Federation, schema, surql string, rev []config.ReverseTable) *liveFixture {
	t.Helper()
	slot := "f_" + strings.TrimPrefix(testenv.Name(t), "t_")
	if len(slot) > 63 {
		slot = slot[len(slot)-63:]
	}
	f := newFixtureSlot(t, fc, slot)
	lf := &liveFixture{fixture: f}
	f.pgExec(t, schema)
	if surql != "" {
		f.surrealExec(t, surql, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	if fc.Cache.Redis != "" {
		iv, err := NewInvalidator(ctx, fc.Cache, log)
		if err != nil {
			t.Fatal(err)
		}
		lf.iv = iv
		t.Cleanup(func() { _ = iv.Close() })
	}
	lf.sync = config.Default().Sync
	lf.sync.Slot = slot
	lf.sync.Heartbeat.Duration = 200 * time.Millisecond
	lf.sync.StatusInterval.Duration = 100 * time.Millisecond
	so := pgsync.Options{Postgres: f.pgcfg, Surreal: f.scfg, Sync: lf.sync, Log: log}
	if lf.iv != nil {
		so.Applied = lf.iv.Applied
	}
	done := make(chan error, 2)
	go func() { done <- pgsync.Run(ctx, so) }()
	running := 1
	if len(rev) > 0 {
		ro := reverse.Options{Postgres: f.pgcfg, Surreal: f.scfg, Reverse: config.Default().Reverse, Log: log}
		ro.Reverse.Tables = rev
		ro.Reverse.PollInterval.Duration = 20 * time.Millisecond
		ro.Reverse.Settle.Duration = 200 * time.Millisecond
		if lf.iv != nil {
			ro.Changed = lf.iv.Changed
		}
		go func() { done <- reverse.Run(ctx, ro) }()
		running++
		t.Cleanup(func() {
			_, _ = f.pg.Exec(context.Background(), `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1`, ro.Reverse.OriginFor(f.pgcfg.Database))
		})
	}
	t.Cleanup(func() {
		cancel()
		for range running {
			<-done
		}
		dropSlot(t, f, slot)
	})
	return lf
}

func dropSlot(t *testing.T, f *fixture, slot string) {
	ctx := context.Background()
	var err error
	for range 100 {
		_, _ = f.pg.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", slot)
		if _, err = f.pg.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", slot); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("dropping slot %s: %v", slot, err)
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) scalar(t *testing.T, sql string, args []any, o QueryOptions) any {
	t.Helper()
	res, err := f.engine.Query(context.Background(), nil, sql, args, o)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("%s: %d rows, want 1", sql, len(res.Rows))
	}
	return res.Rows[0][0]
}

const productSchema = `CREATE TABLE product (id bigint PRIMARY KEY, name text NOT NULL, price bigint NOT NULL);
INSERT INTO product VALUES (1, 'lamp', 0), (2, 'desk', 100);`

var productColumns = []config.FederatedTable{{Name: "product", Columns: []config.ReverseColumn{
	{Name: "name", Type: "text"}, {Name: "price", Type: "bigint"}}}}

// TestReadYourWrites: with read_your_writes, a federated read right after
// a PostgreSQL commit sees it in the replicated SurrealDB table, every
// time, with and without the cache.
func TestReadYourWrites(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cache=%v", cached), func(t *testing.T) {
			fc := config.Default().Federation
			fc.Tables = productColumns
			fc.WaitTimeout.Duration = 30 * time.Second // a loaded CI machine
			if cached {
				fc.Cache = cacheConfig(t)
			}
			f := newLiveFixture(t, fc, productSchema, "", nil)
			ryw := QueryOptions{Consistency: ReadYourWrites}
			// The first read also waits for the snapshot.
			if got := f.scalar(t, "SELECT price FROM surreal.product WHERE id = '2'", nil, ryw); got != int64(100) {
				t.Fatalf("price of product 2 = %v, want 100", got)
			}
			for i := 1; i <= 40; i++ {
				f.pgExec(t, "UPDATE product SET price = $1 WHERE id = 1", i)
				got := f.scalar(t, "SELECT p.price FROM surreal.product p WHERE p.id = $1", []any{"1"}, ryw)
				if got != int64(i) {
					t.Fatalf("after the update to %d, read_your_writes read price %v", i, got)
				}
			}
		})
	}
}

// TestReadYourWritesTimeout: with no sync running the wait fails clearly.
func TestReadYourWritesTimeout(t *testing.T) {
	fc := config.Default().Federation
	fc.WaitTimeout.Duration = 300 * time.Millisecond
	f := newFixture(t, fc)
	f.surrealExec(t, "DEFINE TABLE thing SCHEMALESS; CREATE thing:1 SET a = 1;", nil)
	_, err := f.engine.Query(context.Background(), nil, "SELECT id FROM surreal.thing", nil, QueryOptions{Consistency: ReadYourWrites})
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != codeTimeout || !strings.Contains(pe.Message, "federation.wait_timeout") {
		t.Fatalf("err = %v, want a 57014 naming federation.wait_timeout", err)
	}
}

// TestCacheInvalidation: cached SurrealDB sub-results are hit when
// nothing changed, and never hide a change once the stream that carries
// it has applied it: PostgreSQL updates (replicated by sync) and
// SurrealDB updates (read by the reverse direction).
func TestCacheInvalidation(t *testing.T) {
	fc := config.Default().Federation
	stars := []config.ReverseColumn{{Name: "stars", Type: "bigint"}}
	fc.Tables = append(productColumns, config.FederatedTable{Name: "note", Columns: stars})
	fc.Cache = cacheConfig(t)
	f := newLiveFixture(t, fc, productSchema, "DEFINE TABLE note SCHEMALESS;",
		[]config.ReverseTable{{Name: "note", Target: "public.note_copy", Columns: stars}})
	ctx := context.Background()
	eventual := QueryOptions{Consistency: Eventual}
	q := "SELECT price FROM surreal.product WHERE id = '1'"
	// read_your_writes waits for the snapshot (and its invalidation).
	f.scalar(t, q, nil, QueryOptions{Consistency: ReadYourWrites})
	// Populate, then hit.
	f.scalar(t, q, nil, eventual)
	lines := explainOf(t, f.fixture, "EXPLAIN FEDERATED "+q)
	if !strings.Contains(lines, "cache: hit") {
		t.Fatalf("second read was not a cache hit:\n%s", lines)
	}
	// PostgreSQL side: once the sync applied the update, no stale read.
	for i := 1; i <= 10; i++ {
		f.pgExec(t, "UPDATE product SET price = $1 WHERE id = 1", 1000+i)
		waitFor(t, 30*time.Second, "the sync to apply the update", func() bool {
			res, err := surrealdb.Query[[]map[string]any](ctx, f.surreal.DB, "SELECT price FROM product:1", nil)
			return err == nil && len((*res)[0].Result) == 1 && fmt.Sprint((*res)[0].Result[0]["price"]) == fmt.Sprint(1000+i)
		})
		// The invalidation follows the commit by at most one Redis
		// round trip; read_your_writes closes that gap exactly.
		if got := f.scalar(t, q, nil, QueryOptions{Consistency: ReadYourWrites}); got != int64(1000+i) {
			t.Fatalf("after sync applied price %d, a cached read returned %v", 1000+i, got)
		}
		if got := f.scalar(t, q, nil, eventual); got != int64(1000+i) {
			t.Fatalf("eventual read after the invalidation returned %v, want %d", got, 1000+i)
		}
	}
	// SurrealDB side: a table the reverse direction reads.
	f.surrealExec(t, "CREATE note:1 SET stars = 1", nil)
	waitFor(t, 30*time.Second, "the reverse copy of note:1", func() bool {
		var n int64
		return f.pg.QueryRow(ctx, "SELECT stars FROM note_copy WHERE id = '1'").Scan(&n) == nil && n == 1
	})
	noteQ := "SELECT n.stars FROM surreal.note n WHERE n.id = '1'"
	if got := f.scalar(t, noteQ, nil, eventual); got != int64(1) {
		t.Fatalf("note stars = %v, want 1", got)
	}
	for i := 2; i <= 6; i++ {
		f.surrealExec(t, "UPDATE note:1 SET stars = $s", map[string]any{"s": i})
		waitFor(t, 30*time.Second, "the reverse direction to apply the update", func() bool {
			var n int64
			return f.pg.QueryRow(ctx, "SELECT stars FROM note_copy WHERE id = '1'").Scan(&n) == nil && n == int64(i)
		})
		// The reverse direction invalidates right after its commit; an
		// entry surviving that would live for the TTL (5 minutes).
		waitFor(t, 5*time.Second, fmt.Sprintf("a cached read to show stars %d", i), func() bool {
			return f.scalar(t, noteQ, nil, eventual) == int64(i)
		})
	}
}

func explainOf(t *testing.T, f *fixture, sql string) string {
	t.Helper()
	res, err := f.engine.Query(context.Background(), nil, sql, nil, QueryOptions{})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.Join(res.Explain, "\n")
}

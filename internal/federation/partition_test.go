package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// fedPartitionSchema is replicated by the real sync: event partitioned by
// value of a key column (EU and UK on server eu, the rest on default,
// with a graph edge per row), click by the hash of its key over both
// servers, audit routed whole to eu. customer and wanted are PostgreSQL
// tables to join with (the sync copies them to default too).
// event.customer_id, a foreign key, becomes a record link (text); buyer
// holds the same number as a plain bigint to join on.
const fedPartitionSchema = `
CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL, tier text);
CREATE TABLE event (
	region text NOT NULL,
	seq bigint NOT NULL,
	customer_id bigint REFERENCES customer(id),
	buyer bigint,
	amount bigint,
	note text,
	PRIMARY KEY (region, seq));
CREATE TABLE click (id bigint PRIMARY KEY, page text, n bigint);
CREATE TABLE audit (id bigint PRIMARY KEY, what text, n bigint);
CREATE TABLE wanted (click_id text PRIMARY KEY, tag text);
INSERT INTO customer SELECT g, 'c' || g, CASE WHEN g % 5 = 0 THEN 'gold' END FROM generate_series(1, 30) g;
INSERT INTO event SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, CASE WHEN g % 17 <> 0 THEN 1 + g % 30 END,
	CASE WHEN g % 13 <> 0 THEN 1 + g % 30 END, g % 50 - 10, CASE WHEN g % 9 <> 0 THEN 'n' || (g % 7) END FROM generate_series(1, 400) g;
INSERT INTO click SELECT g, 'p' || (g % 13), g % 31 FROM generate_series(1, 300) g;
INSERT INTO audit SELECT g, 'a' || (g % 4), g FROM generate_series(1, 40) g;
INSERT INTO wanted SELECT g::text, CASE WHEN g % 3 = 0 THEN 'x' END FROM generate_series(1, 60) g;
`

// partitionFixture runs the sync over two SurrealDB servers (the shared
// test server and a private one, eu) and two engines that know the
// placement: one without and one with the Redis cache.
type partitionFixture struct {
	*fixture
	cached *Engine
	eu     *surreal.Client
}

func newPartitionFixture(t *testing.T) *partitionFixture {
	t.Helper()
	slot := "f_" + strings.TrimPrefix(testenv.Name(t), "t_")
	if len(slot) > 63 {
		slot = slot[len(slot)-63:]
	}
	f := newFixtureSlot(t, config.Default().Federation, slot)
	f.pgExec(t, fedPartitionSchema)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	eu := testenv.PrivateSurreal(t)
	euCl, err := surreal.Connect(ctx, eu, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = euCl.Close(context.Background()) })
	servers := f.scfg
	servers.Servers = []config.SurrealServer{{Name: "eu", URL: eu.URL, Namespace: eu.Namespace, Database: eu.Database}}
	sc := config.Default().Sync
	sc.Slot = slot
	sc.Schema = "schemafull" // typed fields: predicates on them are pushed
	sc.Heartbeat.Duration = 200 * time.Millisecond
	sc.StatusInterval.Duration = 100 * time.Millisecond
	sc.Tables = []config.Table{
		{Name: "public.event", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "made_by"}},
			Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "eu"}, Other: "default"}},
		{Name: "public.click", Partition: config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu"}}},
		{Name: "public.audit", Server: "eu"},
	}

	// The engines: f.engine (the fixture's, rebuilt with the placement)
	// and one with the cache, which the sync invalidates.
	fc := config.Default().Federation
	fc.WaitTimeout.Duration = 2 * time.Minute // the first read waits for the snapshot
	e, err := New(ctx, Options{PG: f.pg, Surreal: f.engine.o.Surreal, Servers: servers, Sync: sc, Config: fc, Slot: slot, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	f.engine = e
	cfc := fc
	cfc.Cache = cacheConfig(t)
	cached, err := New(ctx, Options{PG: f.pg, Surreal: e.o.Surreal, Servers: servers, Sync: sc, Config: cfc, Slot: slot, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cached.Close() })
	iv, err := NewInvalidator(ctx, cfc.Cache, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iv.Close() })

	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- pgsync.Run(sctx, pgsync.Options{Postgres: f.pgcfg, Surreal: servers, Sync: sc, Log: log, Applied: iv.Applied})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && sctx.Err() == nil {
			t.Errorf("the sync stopped: %v", err)
		}
		dropSlot(t, f, slot)
	})
	return &partitionFixture{fixture: f, cached: cached, eu: euCl}
}

// fedCase is a query over {event}, {click} and {audit}: the federated
// statement names the SurrealDB tables, the reference one the PostgreSQL
// source tables.
type fedCase struct {
	name, sql string
	// ref, when set, is the reference statement (for a type the
	// federated column does not share with the source's: a key is text).
	ref  string
	args []any
	// ordered: the rows' order is part of the answer (a total ORDER BY).
	ordered bool
	// servers, when set, must appear in EXPLAIN FEDERATED's text.
	explain []string
}

func (c fedCase) federated() string { return expand(c.sql, "surreal.") }
func (c fedCase) reference() string { return expand(or(c.ref, c.sql), "public.") }

func expand(sql, schema string) string {
	for _, t := range []string{"event", "click", "audit"} {
		sql = strings.ReplaceAll(sql, "{"+t+"}", schema+t)
	}
	return sql
}

var partitionCases = []fedCase{
	{name: "plain select", sql: "SELECT region, seq, customer_id, amount, note FROM {event}",
		explain: []string{"partitioned over default, eu: read on default (", "eu ("}},
	{name: "pushed predicates", sql: "SELECT region, seq, amount FROM {event} WHERE amount >= $1 AND note IS NOT NULL AND buyer <> 3",
		args: []any{int64(20)}, explain: []string{"pushed: amount >= $1"}},
	{name: "partition value narrows to eu", sql: "SELECT seq, amount, note FROM {event} WHERE region = 'EU'",
		explain: []string{"read on eu (", "servers narrowed"}},
	{name: "partition values on both", sql: "SELECT region, seq FROM {event} WHERE region IN ('US', 'UK') AND amount < 0"},
	{name: "partition parameter", sql: "SELECT seq, amount FROM {event} WHERE region = $1 ORDER BY seq", args: []any{"BR"}, ordered: true,
		explain: []string{"read on default (", "servers narrowed"}},
	{name: "order by and limit", sql: "SELECT region, seq, amount FROM {event} ORDER BY amount DESC, region, seq LIMIT 7 OFFSET 3", ordered: true},
	{name: "limit pushed per server", sql: "SELECT count(*) FROM (SELECT seq FROM {event} LIMIT 150 OFFSET 20) s", ordered: true,
		explain: []string{"pushed: LIMIT 170", "LIMIT pushed to each server"}},
	{name: "limit with pushed predicate", sql: "SELECT count(*) FROM (SELECT n FROM {click} WHERE n = 4 LIMIT 5) s", ordered: true},
	{name: "group by", sql: "SELECT region, count(*), sum(amount), min(amount), max(amount), count(note) FROM {event} GROUP BY region ORDER BY region",
		ordered: true},
	{name: "whole-table aggregate", sql: "SELECT count(*), sum(n), min(n), max(n) FROM {click}", ordered: true},
	{name: "aggregate with pushed predicate", sql: "SELECT note, count(*) FROM {event} WHERE amount > 30 GROUP BY note ORDER BY note NULLS FIRST", ordered: true},
	{name: "distinct", sql: "SELECT DISTINCT note FROM {event} ORDER BY note NULLS FIRST", ordered: true},
	{name: "having", sql: "SELECT page, count(*) FROM {click} GROUP BY page HAVING max(n) >= 30 ORDER BY page", ordered: true},
	{name: "bind join with PostgreSQL", sql: `SELECT c.name, e.region, e.seq, e.amount FROM customer c JOIN {event} e ON e.buyer = c.id
WHERE c.tier = 'gold' ORDER BY c.name, e.region, e.seq`, ordered: true, explain: []string{"bind join on e.buyer = c.id"}},
	{name: "bind join on the partition key", sql: `SELECT w.click_id, k.page, k.n FROM wanted w JOIN {click} k ON k.id = w.click_id
WHERE w.tag = 'x' ORDER BY w.click_id`, ref: `SELECT w.click_id, k.page, k.n FROM wanted w JOIN {click} k ON k.id::text = w.click_id
WHERE w.tag = 'x' ORDER BY w.click_id`, ordered: true, explain: []string{"bind join on k.id = w.click_id", "each looked up on its server"}},
	{name: "join read whole", sql: "SELECT c.tier, count(*), sum(k.id::bigint) FROM {click} k JOIN customer c ON c.id = k.n GROUP BY c.tier ORDER BY c.tier NULLS FIRST",
		ordered: true},
	{name: "left join", sql: "SELECT c.id, count(e.seq) FROM customer c LEFT JOIN {event} e ON e.buyer = c.id AND e.region = 'UK' GROUP BY c.id ORDER BY c.id",
		ordered: true},
	{name: "two partitioned tables", sql: `SELECT e.region, count(*), sum(k.n) FROM {event} e JOIN {click} k ON k.n = e.amount
WHERE e.region = 'BR' AND e.amount > 5 GROUP BY e.region ORDER BY e.region`, ordered: true},
	{name: "routed table", sql: "SELECT id::bigint, what, n FROM {audit} WHERE n > 30 ORDER BY 1", ordered: true,
		explain: []string{"on server eu"}},
	{name: "routed table aggregate", sql: "SELECT what, count(*), sum(n) FROM {audit} GROUP BY what ORDER BY what", ordered: true,
		explain: []string{"SurrealDB (aggregate)", "on server eu"}},
	{name: "routed joined with partitioned", sql: `SELECT a.what, count(*) FROM {audit} a JOIN {click} k ON k.id = a.id
JOIN {event} e ON e.seq = a.n GROUP BY a.what ORDER BY a.what`, ordered: true},
}

// TestPartitionedFederation: federated queries over tables the real sync
// spread over two SurrealDB servers (partitioned by value and by hash,
// and routed whole) answer exactly what the same query answers over the
// PostgreSQL source tables, with and without the cache, before and after
// changes (read_your_writes, which waits for every server).
func TestPartitionedFederation(t *testing.T) {
	t.Parallel()
	f := newPartitionFixture(t)
	ctx := context.Background()
	ryw := QueryOptions{Consistency: ReadYourWrites}
	// The first read waits for the snapshot on both servers.
	if got := f.scalar(t, "SELECT count(*) FROM surreal.event", nil, ryw); got != int64(400) {
		t.Fatalf("count of surreal.event = %v, want 400", got)
	}
	// The data really is spread: both servers hold event and click rows,
	// audit is on eu alone.
	for _, table := range []string{"event", "click", "made_by"} {
		if d, e := countOn(t, f.surreal, table), countOn(t, f.eu, table); d == 0 || e == 0 {
			t.Fatalf("%s: %d records on default, %d on eu; want both", table, d, e)
		}
	}
	if d, e := countOn(t, f.surreal, "audit"), countOn(t, f.eu, "audit"); d != 0 || e != 40 {
		t.Fatalf("audit: %d records on default, %d on eu; want 0 and 40", d, e)
	}

	check := func(t *testing.T, o QueryOptions) {
		for _, c := range partitionCases {
			t.Run(c.name, func(t *testing.T) {
				want := referenceRows(t, f.fixture, c)
				for i, e := range []*Engine{f.engine, f.cached, f.cached} { // the second cached read hits
					res, err := e.Query(ctx, nil, c.federated(), c.args, o)
					if err != nil {
						t.Fatalf("engine %d: %s: %v", i, c.federated(), err)
					}
					if got := rowsText(res.Rows, c.ordered); !slices.Equal(got, want) {
						t.Fatalf("engine %d: %s\n got %d rows %v\nwant %d rows %v", i, c.federated(), len(got), firstRows(got), len(want), firstRows(want))
					}
				}
				if len(c.explain) == 0 {
					return
				}
				res, err := f.engine.Query(ctx, nil, "EXPLAIN FEDERATED "+c.federated(), c.args, o)
				if err != nil {
					t.Fatal(err)
				}
				text := strings.Join(res.Explain, "\n")
				for _, s := range c.explain {
					if !strings.Contains(text, s) {
						t.Fatalf("EXPLAIN FEDERATED lacks %q:\n%s", s, text)
					}
				}
			})
		}
	}
	t.Run("snapshot", func(t *testing.T) { check(t, QueryOptions{}) })

	// Changes on every server, one moving rows between servers (a key
	// change from US to EU), then read_your_writes reads them all.
	for _, sql := range []string{
		"UPDATE event SET amount = amount + 1000 WHERE seq % 3 = 0",
		"UPDATE event SET region = 'EU' WHERE region = 'US' AND seq % 5 = 0",
		"DELETE FROM event WHERE seq % 11 = 0",
		"INSERT INTO event SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, 1 + g % 30, 1 + g % 30, g % 40, 'm' FROM generate_series(401, 480) g",
		"UPDATE click SET n = n + 1 WHERE id % 2 = 0",
		"DELETE FROM click WHERE id % 7 = 0",
		"UPDATE audit SET what = 'seen' WHERE id < 10",
	} {
		f.pgExec(t, sql)
	}
	t.Run("after changes", func(t *testing.T) { check(t, ryw) })
	// Each change is seen the moment it commits.
	for i := range 5 {
		f.pgExec(t, "UPDATE event SET note = $1 WHERE region = 'UK' AND seq = 1", fmt.Sprintf("v%d", i))
		f.pgExec(t, "UPDATE audit SET n = $1 WHERE id = 1", 100+i)
		for _, e := range []*Engine{f.engine, f.cached} {
			res, err := e.Query(ctx, nil, "SELECT e.note, a.n FROM surreal.event e, surreal.audit a WHERE e.region = 'UK' AND e.seq = 1 AND a.id = '1'", nil, ryw)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(res.Rows); got != fmt.Sprintf("[[v%d %d]]", i, 100+i) {
				t.Fatalf("read_your_writes after update %d read %s", i, got)
			}
		}
	}
}

// referenceRows runs the case over the PostgreSQL source tables; it
// fails a case with no rows, which could not tell answers apart.
func referenceRows(t *testing.T, f *fixture, c fedCase) []string {
	t.Helper()
	res, err := collect(context.Background(), f.pg, c.reference(), c.args)
	if err != nil {
		t.Fatalf("%s: %v", c.reference(), err)
	}
	if len(res.Rows) == 0 {
		t.Fatalf("%s: no rows; the case needs some", c.reference())
	}
	return rowsText(res.Rows, c.ordered)
}

// rowsText renders rows as text, sorted unless their order counts.
func rowsText(rows [][]any, ordered bool) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = fmt.Sprint(v)
		}
		out[i] = strings.Join(parts, "|")
	}
	if !ordered {
		slices.Sort(out)
	}
	return out
}

func firstRows(rows []string) []string { return rows[:min(len(rows), 8)] }

// countOn counts a table's records on one server.
func countOn(t *testing.T, cl *surreal.Client, table string) int {
	t.Helper()
	res, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB, "SELECT count() AS n FROM "+surreal.Ident(table)+" GROUP ALL", nil)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0
		}
		t.Fatalf("counting %s: %v", table, err)
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return 0
	}
	n, _ := intValue(normalizeInt((*res)[0].Result[0]["n"]))
	return int(n)
}

// TestReadYourWritesEveryServer: read_your_writes waits for the sync
// position on every server a query reads, and only on those: with the
// position on eu behind PostgreSQL's, a read of a table on eu times out
// naming eu, a read of a table on the default server does not wait for
// eu, and once eu's position passes, the read goes through.
func TestReadYourWritesEveryServer(t *testing.T) {
	t.Parallel()
	fc := config.Default().Federation
	fc.WaitTimeout.Duration = 500 * time.Millisecond
	a := []config.ReverseColumn{{Name: "a", Type: "bigint"}}
	fc.Tables = []config.FederatedTable{{Name: "thing", Columns: a}, {Name: "audit", Columns: a}}
	f := newFixture(t, fc)
	ctx := context.Background()
	eu := testenv.PrivateSurreal(t)
	euCl, err := surreal.Connect(ctx, eu, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = euCl.Close(context.Background()) })
	servers := f.scfg
	servers.Servers = []config.SurrealServer{{Name: "eu", URL: eu.URL, Namespace: eu.Namespace, Database: eu.Database}}
	sc := config.Sync{Slot: "ryw_servers", Tables: []config.Table{{Name: "public.audit", Server: "eu"}}}
	e, err := New(ctx, Options{PG: f.pg, Surreal: f.engine.o.Surreal, Servers: servers, Sync: sc, Config: fc, Slot: sc.Slot})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })

	setPosition := func(cl *surreal.Client, lsn int64) {
		t.Helper()
		_, err := surrealdb.Query[any](ctx, cl.DB, "UPSERT type::record($t, $slot) CONTENT {phase: 'streaming', lsn: $lsn}",
			map[string]any{"t": sink.PositionTable, "slot": sc.Slot, "lsn": lsn})
		if err != nil {
			t.Fatal(err)
		}
	}
	far := int64(1) << 60 // past any WAL position of the test cluster
	f.surrealExec(t, "DEFINE TABLE thing SCHEMALESS; CREATE thing:1 SET a = 1;", nil)
	if _, err := surrealdb.Query[any](ctx, euCl.DB, "DEFINE TABLE audit SCHEMALESS; CREATE audit:1 SET a = 2;", nil); err != nil {
		t.Fatal(err)
	}
	setPosition(f.surreal, far)
	setPosition(euCl, 1)
	ryw := QueryOptions{Consistency: ReadYourWrites}

	_, err = e.Query(ctx, nil, "SELECT id FROM surreal.audit", nil, ryw)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != codeTimeout || !strings.Contains(pe.Message, "server eu") {
		t.Fatalf("reading audit with eu behind: err = %v, want a 57014 naming server eu", err)
	}
	if got := oneValue(t, e, "SELECT a FROM surreal.thing", ryw); got != int64(1) {
		t.Fatalf("thing.a = %v, want 1", got)
	}
	setPosition(euCl, far)
	if got := oneValue(t, e, "SELECT a FROM surreal.audit", ryw); got != int64(2) {
		t.Fatalf("audit.a = %v, want 2", got)
	}
	// The default server behind holds back a read of eu's table joined
	// with one of its own.
	setPosition(f.surreal, 1)
	_, err = e.Query(ctx, nil, "SELECT x.a FROM surreal.audit x, surreal.thing y", nil, ryw)
	if !errors.As(err, &pe) || pe.Code != codeTimeout || strings.Contains(pe.Message, "server eu") {
		t.Fatalf("reading both with default behind: err = %v, want a 57014 about the default server", err)
	}
}

// oneValue runs a one-row, one-column query on engine e.
func oneValue(t *testing.T, e *Engine, sql string, o QueryOptions) any {
	t.Helper()
	res, err := e.Query(context.Background(), nil, sql, nil, o)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: %v, want one value", sql, res.Rows)
	}
	return res.Rows[0][0]
}

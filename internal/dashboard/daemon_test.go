package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/dashboard"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/maintenance"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
	"github.com/pgsurreal/pgsurreal/internal/txn"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// daemon is what `pgsurreal serve` runs, in-process against the test
// servers: sync, reverse, the federation engine, the transaction
// coordinator and the maintenance scheduler (a verify job), all on one
// registry, with a load that keeps every chart moving.
type daemon struct {
	t     *testing.T
	cfg   config.Config
	pool  *pgxpool.Pool
	sur   *surreal.Client
	reg   *prometheus.Registry
	sched *maintenance.Scheduler
}

// The tables of the test shop: two PostgreSQL tables replicated into
// SurrealDB, and SurrealDB reviews replicated into PostgreSQL.
var shopTables = []dashboard.TableCount{
	{Table: "public.customer", Surreal: "customer", Direction: dashboard.Forward},
	{Table: "public.orders", Surreal: "orders", Direction: dashboard.Forward},
	{Table: "public.review", Surreal: "review", Direction: dashboard.Reverse},
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	env := testenv.Get(t)
	d := &daemon{t: t, cfg: config.Default(), reg: prometheus.NewRegistry()}
	ctx := context.Background()
	// A PostgreSQL cluster of its own: creating the slot waits for every
	// transaction of the cluster, and other packages' tests keep
	// prepared transactions in the shared one for as long as they like.
	d.cfg.Postgres, _ = testenv.PrivateCluster(t)
	var err error
	if d.pool, err = postgres.Connect(ctx, d.cfg.Postgres); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.pool.Close)
	d.cfg.Surreal, d.sur = env.NewSurrealClient(t)
	d.cfg.Sync.Slot = "s_" + strings.TrimPrefix(testenv.Name(t), "t_")
	d.cfg.Sync.Heartbeat.Duration = 100 * time.Millisecond
	d.cfg.Sync.StatusInterval.Duration = 100 * time.Millisecond
	d.cfg.Sync.Exclude = []string{"public.review"}
	d.cfg.Reverse.Tables = []config.ReverseTable{{Name: "review"}}
	d.cfg.Reverse.PollInterval.Duration = 50 * time.Millisecond
	d.cfg.Reverse.Settle.Duration = 300 * time.Millisecond

	d.pgExec(`CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL)`)
	d.pgExec(`CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customer, total numeric(10,2) NOT NULL)`)
	d.pgExec(`INSERT INTO customer SELECT i, 'customer ' || i FROM generate_series(1, 20) i`)
	d.pgExec(`INSERT INTO orders (customer_id, total) SELECT 1 + i % 20, i FROM generate_series(1, 200) i`)
	d.surQuery(`DEFINE TABLE review SCHEMAFULL;
DEFINE FIELD customer_id ON review TYPE int;
DEFINE FIELD rating ON review TYPE int;
DEFINE FIELD body ON review TYPE string;
DEFINE TABLE interaction SCHEMALESS;`)
	for i := range 10 {
		d.surQuery(`CREATE review CONTENT {customer_id: $c, rating: $r, body: "seeded"}`, map[string]any{"c": 1 + i, "r": 1 + i%5})
	}

	log := testLog()
	sp, err := surreal.NewPool(ctx, d.cfg.Surreal, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })
	engine, err := federation.New(ctx, federation.Options{PG: d.pool, Surreal: sp, Config: d.cfg.Federation, Slot: d.cfg.Sync.Slot, Log: log, Registerer: d.reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	// Before the pipelines: the coordinator and reverse both create the
	// schema pgsurreal, and CREATE SCHEMA IF NOT EXISTS races.
	coord, err := txn.Start(ctx, txn.Options{PG: d.pool, Surreal: sp, Log: log, Metrics: txn.NewMetrics(d.reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = coord.Close(context.Background()) })
	d.sched, err = maintenance.New(maintenance.Options{Registerer: d.reg, Log: log, Jobs: []maintenance.Job{{Name: maintenance.JobVerify, Schedule: "@hourly", Run: d.verify}}})
	if err != nil {
		t.Fatal(err)
	}

	// Registered last, so the goroutines stop before what they use closes.
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(runCtx); err != nil && runCtx.Err() == nil {
				t.Errorf("%s stopped: %v", name, err)
			}
		})
	}
	syncOpts := pgsync.Options{Postgres: d.cfg.Postgres, Surreal: d.cfg.Surreal, Sync: d.cfg.Sync, Log: log,
		Metrics: pgsync.NewMetrics(d.reg), SkipOrigin: d.cfg.Reverse.OriginFor(d.cfg.Postgres.Database)}
	run("sync", func(ctx context.Context) error { return pgsync.Run(ctx, syncOpts) })
	revOpts := reverse.Options{Postgres: d.cfg.Postgres, Surreal: d.cfg.Surreal, Reverse: d.cfg.Reverse, Log: log, Metrics: reverse.NewMetrics(d.reg)}
	run("reverse", func(ctx context.Context) error { return reverse.Run(ctx, revOpts) })
	run("maintenance", d.sched.Run)
	run("load", func(ctx context.Context) error { return d.load(ctx, engine, coord) })
	return d
}

func testLog() *slog.Logger {
	lvl := slog.LevelError
	if os.Getenv("PGSURREAL_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

func (d *daemon) pgExec(sql string, args ...any) {
	d.t.Helper()
	if _, err := d.pool.Exec(context.Background(), sql, args...); err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
}

func (d *daemon) surQuery(q string, vars ...map[string]any) {
	d.t.Helper()
	var v map[string]any
	if len(vars) > 0 {
		v = vars[0]
	}
	res, err := surrealdb.Query[any](context.Background(), d.sur.DB, q, v)
	if err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
	for i, r := range *res {
		if r.Status != "OK" {
			d.t.Fatalf("%s: statement %d: %v", q, i, r.Result)
		}
	}
}

// load writes orders in PostgreSQL and reviews in SurrealDB, runs
// federated queries and distributed transactions (one in four refused),
// until ctx ends.
func (d *daemon) load(ctx context.Context, engine *federation.Engine, coord *txn.Coordinator) error {
	writer, err := surreal.Connect(ctx, d.cfg.Surreal, nil)
	if err != nil {
		return err
	}
	defer func() { _ = writer.Close(context.Background()) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cust := 1 + rand.IntN(20)
		// Bursts: the throughput chart shows its shape.
		if i%200 < 150 || i%2 == 0 {
			if _, err := d.pool.Exec(ctx, "INSERT INTO orders (customer_id, total) VALUES ($1, $2)", cust, rand.IntN(10000)); err != nil && ctx.Err() == nil {
				return fmt.Errorf("inserting an order: %w", err)
			}
		}
		if i%5 == 0 {
			if _, err := surrealdb.Query[any](ctx, writer.DB, `CREATE review CONTENT {customer_id: $c, rating: $r, body: "live"}`, map[string]any{"c": cust, "r": 1 + rand.IntN(5)}); err != nil && ctx.Err() == nil {
				return fmt.Errorf("creating a review: %w", err)
			}
		}
		if i%5 == 2 {
			_, err := engine.Query(ctx, d.pool, "SELECT c.name, count(r.customer_id) FROM customer c LEFT JOIN surreal.review r ON r.customer_id = c.id WHERE c.id = $1 GROUP BY c.name", []any{cust}, federation.QueryOptions{})
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("federated query: %w", err)
			}
		}
		if i%10 == 7 {
			refuse := i%40 == 7
			err := coord.RunTx(ctx, txn.TxOptions{}, func(ctx context.Context, tx *txn.Tx) error {
				if _, err := tx.PG().Exec(ctx, "INSERT INTO orders (customer_id, total) VALUES ($1, 42)", cust); err != nil {
					return err
				}
				if refuse {
					return errRefused
				}
				return tx.Surreal().Exec(`CREATE interaction CONTENT {customer_id: $c, kind: "checkout"}`, map[string]any{"c": cust})
			})
			if err != nil && !errors.Is(err, errRefused) && ctx.Err() == nil {
				return fmt.Errorf("distributed transaction: %w", err)
			}
		}
	}
}

var errRefused = errors.New("payment refused")

// verify is the scheduled verify job, as serve runs it.
func (d *daemon) verify(ctx context.Context) (maintenance.Outcome, error) {
	rep, err := verify.Run(ctx, verify.Options{Config: d.cfg})
	if err != nil {
		return maintenance.Outcome{Summary: "verify failed"}, err
	}
	out := maintenance.Outcome{Differences: map[string]int64{}, Details: map[string]float64{maintenance.DetailTables: float64(len(rep.Tables))}}
	for _, t := range rep.Tables {
		out.Differences[t.Table] = int64(len(t.Differences))
	}
	out.Summary = fmt.Sprintf("%d tables, %d differences", len(rep.Tables), out.Drift())
	return out, nil
}

// countTables counts each table on both sides, as serve's source of
// dashboard.Options.Tables does.
func (d *daemon) countTables(ctx context.Context) ([]dashboard.TableCount, error) {
	out := make([]dashboard.TableCount, 0, len(shopTables))
	for _, tc := range shopTables {
		schema, name, _ := strings.Cut(tc.Table, ".")
		if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM "+postgres.QualifiedIdent(schema, name)).Scan(&tc.PostgresRows); err != nil {
			return nil, fmt.Errorf("counting %s: %w", tc.Table, err)
		}
		res, err := surrealdb.Query[[]map[string]any](ctx, d.sur.DB, "SELECT count() FROM type::table($t) GROUP ALL", map[string]any{"t": tc.Surreal})
		if err != nil {
			return nil, fmt.Errorf("counting %s: %w", tc.Surreal, err)
		}
		tc.SurrealRecords = 0
		if len(*res) > 0 && len((*res)[0].Result) > 0 {
			tc.SurrealRecords, _ = strconv.ParseInt(fmt.Sprint((*res)[0].Result[0]["count"]), 10, 64)
		}
		tc.State = "streaming"
		out = append(out, tc)
	}
	return out, nil
}

// metric is the sum of a metric's series in the registry, -1 when absent.
func (d *daemon) metric(name string) float64 {
	mfs, _ := d.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var v float64
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				v += m.GetCounter().GetValue()
			case m.Gauge != nil:
				v += m.GetGauge().GetValue()
			case m.Histogram != nil:
				v += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return v
	}
	return -1
}

// waitFor waits until cond holds; the metrics named are reported if it
// does not.
func (d *daemon) waitFor(what string, timeout time.Duration, cond func() bool, metrics ...string) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var got []string
			for _, m := range metrics {
				got = append(got, fmt.Sprintf("%s=%v", m, d.metric(m)))
			}
			d.t.Fatalf("%s: not within %s (%s)", what, timeout, strings.Join(got, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

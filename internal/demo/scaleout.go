package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// The scale-out step's table: events keyed by (region, id), partitioned
// over two SurrealDB servers by region, replicated by a pipeline of its
// own (the main one excludes it).
const (
	eventsTable = "region_events"
	euServer    = "eu"
	eventRows   = 2000
)

// eventsPartition sends EU and UK events to the second server, the rest
// to the default one.
var eventsPartition = config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": euServer, "UK": euServer}, Other: config.DefaultServer}

// scaleSurreal is the demo's SurrealDB configuration with the second
// server added as "eu".
func (d *session) scaleSurreal(second config.Surreal) config.Surreal {
	c := d.o.demoSurreal()
	c.Servers = []config.SurrealServer{{Name: euServer, URL: second.URL, Namespace: c.Namespace, Database: c.Database,
		Username: second.Username, Password: second.Password}}
	return c
}

// scaleSync replicates the events table alone, partitioned.
func (d *session) scaleSync() config.Sync {
	s := config.Default().Sync
	slot := d.o.Slot + "_events"
	if len(slot) > 63 {
		slot = slot[len(slot)-63:]
	}
	s.Slot, s.Publication = slot, slot
	s.Include = []string{"public." + eventsTable}
	s.Tables = []config.Table{{Name: "public." + eventsTable, Partition: eventsPartition}}
	s.Heartbeat.Duration = 200 * time.Millisecond
	s.StatusInterval.Duration = 200 * time.Millisecond
	return s
}

// scaleOut starts a second SurrealDB server, partitions a table over both
// by region, and shows where the records went, a record moving between
// servers live, and verify over both.
func (d *session) scaleOut(ctx context.Context, p *printer, res *Result) error {
	if d.o.SecondServer == nil {
		p.note("skipped: no second SurrealDB server to start (`pgsurreal demo` starts one next to the dev stack)")
		return nil
	}
	second, stopServer, err := d.o.SecondServer(ctx)
	if err != nil {
		return fmt.Errorf("starting a second SurrealDB server: %w", err)
	}
	defer stopServer()
	p.ok("started a second SurrealDB server at %s, called %q in surreal.servers", second.URL, euServer)
	sur := d.scaleSurreal(second)
	euCfg, _ := sur.Server(euServer)
	eu, err := surreal.Connect(ctx, euCfg, d.o.Log)
	if err != nil {
		return fmt.Errorf("connecting to the second server: %w", err)
	}
	defer eu.Close(context.WithoutCancel(ctx))
	// As on the first server, the demo starts from an empty namespace.
	if _, err := surrealdb.Query[any](ctx, eu.DB, "REMOVE NAMESPACE IF EXISTS "+surreal.Ident(sur.Namespace), nil); err != nil {
		return fmt.Errorf("emptying namespace %s on the second server: %w", sur.Namespace, err)
	}
	if err := eu.DB.Use(ctx, euCfg.Namespace, euCfg.Database); err != nil {
		return err
	}

	if _, err := d.pool.Exec(ctx, `CREATE TABLE public.`+eventsTable+` (region text NOT NULL, id int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (region, id))`); err != nil {
		return fmt.Errorf("creating %s: %w", eventsTable, err)
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO public.`+eventsTable+` SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, (ARRAY['view','cart','buy'])[1 + g % 3], now() - g * interval '1 minute' FROM generate_series(1, $1::int) g`, eventRows); err != nil {
		return fmt.Errorf("loading %s: %w", eventsTable, err)
	}
	p.note("sync.tables entry: %s partitioned by region (EU and UK on eu, the rest on default):", eventsTable)
	p.query(fmt.Sprintf("- name: %s\n  partition: {column: region, by: value, values: {EU: eu, UK: eu}, other: default}", eventsTable))

	sc := d.scaleSync()
	pl := &pipeline{name: "events pipeline", into: "SurrealDB"}
	pl.start(ctx, func(ctx context.Context) error {
		return pgsync.Run(ctx, pgsync.Options{Postgres: d.o.demoPG(), Surreal: sur, Sync: sc, Log: d.o.Log})
	})
	defer func() {
		_ = pl.stop()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if conn, err := d.pool.Acquire(cctx); err == nil {
			_ = dropSlot(cctx, conn.Conn(), sc.Slot)
			conn.Release()
		}
	}()

	clients := map[string]*surreal.Client{config.DefaultServer: d.sur, euServer: eu}
	if err := d.awaitEvents(ctx, pl, clients, sc.Slot, time.Now()); err != nil {
		return err
	}
	var rows [][]string
	for _, name := range []string{config.DefaultServer, euServer} {
		n, regions, err := eventsOn(ctx, clients[name])
		if err != nil {
			return err
		}
		res.ScaleOut = append(res.ScaleOut, ServerCount{Server: name, Records: n, Regions: regions})
		rows = append(rows, []string{name, thousands(n), fmt.Sprint(regions)})
	}
	p.table([]string{"server", "records", "regions"}, []bool{false, true, false}, rows)

	// A live key change: the row's region moves it to the other server.
	moved := time.Now()
	if _, err := d.pool.Exec(ctx, "UPDATE public."+eventsTable+" SET region = 'EU' WHERE region = 'US' AND id = 2"); err != nil {
		return err
	}
	p.note("a live change of the partition column moves the record between servers:")
	p.query("UPDATE " + eventsTable + " SET region = 'EU' WHERE region = 'US' AND id = 2;")
	took, err := d.await(ctx, pl, "the moved event", moved, func(ctx context.Context) (bool, error) {
		onEU, err := hasRecord(ctx, eu, []any{"EU", 2})
		if err != nil || !onEU {
			return false, err
		}
		onDefault, err := hasRecord(ctx, d.sur, []any{"US", 2})
		return !onDefault, err
	})
	if err != nil {
		return err
	}
	p.ok("%s:[\"US\", 2] left server default and %s:[\"EU\", 2] arrived on eu in %s", eventsTable, eventsTable, latency(took))

	if err := d.federatedOver(ctx, p, res, sur, sc); err != nil {
		return err
	}

	cfg := config.Default()
	cfg.Postgres, cfg.Surreal, cfg.Sync = d.o.demoPG(), sur, sc
	cfg.Verify.WaitTimeout.Duration = 5 * time.Second
	rep, err := verify.Run(ctx, verify.Options{Config: cfg, Log: d.o.Log})
	if err != nil {
		return fmt.Errorf("verify over both servers: %w", err)
	}
	res.ScaleOutClean = rep.Differences() == 0
	if !res.ScaleOutClean {
		return fmt.Errorf("verify found %d differences over the two servers", rep.Differences())
	}
	p.ok("verify compared PostgreSQL with the union of both servers (and each record's server): 0 differences")
	if err := pl.stop(); err != nil {
		return fmt.Errorf("the events pipeline failed: %w", err)
	}
	return nil
}

// awaitEvents waits until the events pipeline's snapshot is on both
// servers.
func (d *session) awaitEvents(ctx context.Context, pl *pipeline, clients map[string]*surreal.Client, slot string, start time.Time) error {
	_, err := d.await(ctx, pl, "the partitioned snapshot", start, func(ctx context.Context) (bool, error) {
		for _, cl := range clients {
			pos, err := sink.ReadPosition(ctx, cl.DB, slot)
			if err != nil || pos == nil || pos.Phase != pgsync.PhaseStreaming {
				return false, err
			}
		}
		return true, nil
	})
	return err
}

// eventsOn counts a server's events and lists their regions.
func eventsOn(ctx context.Context, cl *surreal.Client) (int64, []string, error) {
	type group struct {
		N      int64  `json:"n"`
		Region string `json:"region"`
	}
	res, err := surrealdb.Query[[]group](ctx, cl.DB, "SELECT count() AS n, region FROM type::table($t) GROUP BY region ORDER BY region", map[string]any{"t": eventsTable})
	if err != nil {
		return 0, nil, err
	}
	var n int64
	var regions []string
	for _, g := range (*res)[0].Result {
		n += g.N
		regions = append(regions, g.Region)
	}
	return n, regions, nil
}

// hasRecord reports whether the events record with id part id exists.
func hasRecord(ctx context.Context, cl *surreal.Client, id []any) (bool, error) {
	res, err := surrealdb.Query[[]any](ctx, cl.DB, "SELECT VALUE id FROM type::record($t, $id)", map[string]any{"t": eventsTable, "id": id})
	if err != nil {
		return false, err
	}
	return len(*res) > 0 && len((*res)[0].Result) > 0, nil
}

// eventsQuery counts events by region and kind over both servers.
const eventsQuery = `SELECT region, count(*) AS events, count(*) FILTER (WHERE kind = 'buy') AS buys
FROM surreal.region_events GROUP BY region ORDER BY region`

// federatedOver asks one federated query over the partitioned table: it
// reads both servers and PostgreSQL aggregates the union.
func (d *session) federatedOver(ctx context.Context, p *printer, res *Result, sur config.Surreal, sc config.Sync) error {
	pool, err := surreal.NewPool(ctx, d.o.demoSurreal(), d.o.Log)
	if err != nil {
		return err
	}
	defer pool.Close(context.WithoutCancel(ctx))
	// The table is schemaless: its columns are configured (federation.tables).
	fc := config.Default().Federation
	fc.Tables = []config.FederatedTable{{Name: eventsTable, Columns: []config.ReverseColumn{{Name: "region", Type: "text"}, {Name: "kind", Type: "text"}}}}
	e, err := federation.New(ctx, federation.Options{PG: d.pool, Surreal: pool, Servers: sur, Sync: sc, Config: fc, Slot: sc.Slot, Log: d.o.Log})
	if err != nil {
		return err
	}
	defer e.Close()
	p.note("one SQL query over the partitioned table reads both servers and merges (federation):")
	p.query(eventsQuery)
	began := time.Now()
	ans, err := e.Query(ctx, nil, eventsQuery, nil, federation.QueryOptions{})
	if err != nil {
		return fmt.Errorf("federated query over both servers: %w", err)
	}
	took := time.Since(began)
	rows := rowsText(ans.Rows)
	p.table([]string{"region", "events", "buys"}, []bool{false, true, true}, rows)
	res.ScaleOutQuery = rows
	p.ok("answered in %s", ms(took))
	plan, err := e.Query(ctx, nil, "EXPLAIN FEDERATED "+eventsQuery, nil, federation.QueryOptions{})
	if err != nil {
		return err
	}
	for _, l := range plan.Explain {
		if strings.Contains(l, "partitioned") {
			p.line("  %s", strings.TrimSpace(l))
		}
	}
	return nil
}

// Command reverse measures pgsurreal's reverse direction, SurrealDB
// changefeeds applied to PostgreSQL, with the pipeline (reverse.Run)
// running in this process. The load is a schemaless SurrealDB table
// `review` whose records are created, updated and deleted (50/30/20%) by
// several connections, each record touched by one connection only. Each
// round measures, in this order:
//
//	the raw limit: with the pipeline stopped, 4 connections write the
//	    load flat out for 6 s into the replicated table (which has its
//	    changefeed), one record per transaction; then the pipeline starts
//	    and the time it takes to apply that backlog is its catch-up rate,
//	    the pipeline's own limit with no writes competing; then the same
//	    with 10 records per transaction;
//	the highest sustained change rate: 4 connections write as fast as
//	    they can for 20 s while the pipeline runs, first one record per
//	    transaction, then 10, pausing only while more than -max-backlog
//	    changes are committed but not yet applied; the applied rate comes
//	    from the pipeline's own metrics (pgsurreal_reverse_changes_total);
//	the end-to-end lag at a fixed 1,000 changes/s: records created on a
//	    fixed schedule for 15 s, from each one's commit, seen by the
//	    client, to when a poller asking PostgreSQL every 5 ms first sees
//	    its row;
//	the sink's limit: rows the pipeline wrote, upserted again into an
//	    empty copy of the target table through pgx batches of 200 rows per
//	    transaction by one connection, with the pipeline stopped.
//
// Medians over the rounds (3 by default) are printed, with the sustained
// rates as ratios to the raw limits, and saved with every round's figures
// to bench/results/reverse-<date>.json. Run it with
//
//	make bench-reverse        (or: go run ./bench/reverse)
//
// It uses the shared test stack (started if needed, and then stopped
// again), a private one with -private-stack, or the servers named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL; it creates its
// own PostgreSQL database, replication origin and SurrealDB namespace and
// drops them at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
)

// table is the replicated SurrealDB table; its PostgreSQL target is
// public.review.
const table = "review"

type flags struct {
	duration    time.Duration
	rawDuration time.Duration
	writers     int
	txnRecords  int
	maxBacklog  int64
	lagRate     float64
	lagDuration time.Duration
	lagWriters  int
	poll        time.Duration
	readerPoll  time.Duration
	batchSize   int
	pgRows      int
	pgBatch     int
	rounds      int
	verbose     bool
	private     bool
	keepStack   bool
	note        string
}

func main() {
	var f flags
	flag.DurationVar(&f.duration, "duration", 20*time.Second, "length of each throughput phase")
	flag.DurationVar(&f.rawDuration, "raw-duration", 6*time.Second, "length of each raw SurrealDB write measurement")
	flag.IntVar(&f.writers, "writers", 4, "SurrealDB connections writing in the raw and throughput phases")
	flag.IntVar(&f.txnRecords, "txn-records", 10, "records per transaction of the second raw and throughput phases")
	flag.Int64Var(&f.maxBacklog, "max-backlog", 20_000, "writers pause while more changes than this are committed but not applied")
	flag.Float64Var(&f.lagRate, "lag-rate", 1000, "single-record transactions per second in the lag phase")
	flag.DurationVar(&f.lagDuration, "lag-duration", 15*time.Second, "length of the lag phase")
	flag.IntVar(&f.lagWriters, "lag-writers", 8, "SurrealDB connections sharing the lag phase's schedule")
	flag.DurationVar(&f.poll, "poll", 5*time.Millisecond, "how often the lag phase asks PostgreSQL for new rows")
	flag.DurationVar(&f.readerPoll, "reader-poll", 0, "reverse.poll_interval of the pipeline (0: the default)")
	flag.IntVar(&f.batchSize, "batch-size", 0, "reverse.batch_size of the pipeline (0: the default)")
	flag.IntVar(&f.pgRows, "pg-rows", 20_000, "rows of each PostgreSQL upsert measurement")
	flag.IntVar(&f.pgBatch, "pg-batch", 200, "rows per transaction (one pgx batch) of the PostgreSQL upsert measurement")
	flag.IntVar(&f.rounds, "rounds", 3, "rounds of every measurement; medians over rounds are reported")
	flag.BoolVar(&f.verbose, "v", false, "log pgsurreal at info level")
	flag.BoolVar(&f.private, "private-stack", false, "run against a stack of the benchmarks' own (.pgsurreal/bench, ports 54349/18349) instead of the shared test stack")
	flag.BoolVar(&f.keepStack, "keep-stack", false, "leave the stack running if this run started it")
	flag.StringVar(&f.note, "note", "", "a remark saved in the result file (e.g. how the servers were run)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, f)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/reverse:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	date := time.Now()
	load := harness.LoadAverage()
	srv, err := harness.Start(ctx, f.private)
	if err != nil {
		return err
	}
	defer srv.Close(f.keepStack)
	name := harness.Name("bench_reverse")
	pg, dropDB, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	defer dropDB()
	_, removeNS := srv.Namespace(name, "x")
	defer removeNS()
	sur, _ := srv.Namespace(name, "pipeline")
	fmt.Printf("servers: %s\nPostgreSQL database, replication origin and SurrealDB namespace: %s\n", srv.Where, name)
	// Create the database first: concurrent first connections would
	// otherwise race to create it.
	pre, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	_ = pre.Close(ctx)

	log := harness.Logger(f.verbose)
	rc := config.Default().Reverse
	rc.Tables = []config.ReverseTable{{Name: table, Columns: []config.ReverseColumn{
		{Name: "seq", Type: "bigint"},
		{Name: "rating", Type: "integer"},
		{Name: "author", Field: "author.name"},
	}}}
	if f.readerPoll > 0 {
		rc.PollInterval.Duration = f.readerPoll
	}
	if f.batchSize > 0 {
		rc.BatchSize = f.batchSize
	}
	p := newPipeline(reverse.Options{Postgres: pg, Surreal: sur, Reverse: rc, Log: log})
	defer func() {
		if err := p.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pipeline:", err)
		}
		// The replication origin is cluster-wide and outlives the
		// database.
		dropOrigin(srv.PG, rc.OriginFor(pg.Database))
	}()

	res := result{Benchmark: "reverse", Date: date.UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where, Note: f.note, LoadStart: load,
		Table: "SurrealDB review (schemaless, CHANGEFEED) -> public.review (id text pk, doc jsonb, seq bigint, rating integer, author text = author.name; index on seq)",
		Settings: settings{PollInterval: rc.PollInterval.String(), BatchSize: rc.BatchSize,
			Mix:     fmt.Sprintf("%d%% create, %d%% update, %d%% delete", createPct, updatePct, 100-createPct-updatePct),
			Writers: f.writers, RecordsPerTxn: f.txnRecords, MaxBacklog: f.maxBacklog,
			Duration: f.duration.String(), RawDuration: f.rawDuration.String(), LagDuration: f.lagDuration.String(), LagWriters: f.lagWriters,
			PGRows: f.pgRows, PGBatch: f.pgBatch}}
	// The pipeline creates public.review (and the SurrealDB table with its
	// changefeed) and copies the empty table; it is stopped again for the
	// raw measurements.
	t0 := time.Now()
	p.start()
	if err := p.waitStreaming(ctx, 2*time.Minute); err != nil {
		return err
	}
	res.ReadyWaitS = harness.Round(time.Since(t0).Seconds(), 2)
	fmt.Printf("pipeline streaming after %.2f s\n", res.ReadyWaitS)
	if err := p.stop(); err != nil {
		return fmt.Errorf("the pipeline: %w", err)
	}
	// The lag poller looks rows up by seq.
	if err := exec(ctx, pg, "CREATE INDEX review_seq ON public.review (seq)"); err != nil {
		return fmt.Errorf("indexing public.review: %w", err)
	}

	multi := fmt.Sprintf("%d-record transactions", f.txnRecords)
	var ids atomic.Int64
	for i := 1; i <= f.rounds; i++ {
		fmt.Printf("\nround %d/%d\n", i, f.rounds)
		var rd round
		// The raw limit of each kind of transaction is measured with the
		// pipeline stopped; what it wrote is then the backlog the
		// pipeline catches up on when it starts again.
		if rd.RawSingle, err = runRaw(ctx, sur, table, &ids, 1, f.writers, f.rawDuration); err != nil {
			return err
		}
		printRaw("single-record transactions", rd.RawSingle)
		if rd.CatchUpSingle, err = catchUp(ctx, p, rd.RawSingle.Changes); err != nil {
			return err
		}
		printCatchUp(rd.CatchUpSingle)
		if err := p.stop(); err != nil {
			return fmt.Errorf("the pipeline: %w", err)
		}
		if rd.RawMulti, err = runRaw(ctx, sur, table, &ids, f.txnRecords, f.writers, f.rawDuration); err != nil {
			return err
		}
		printRaw(multi, rd.RawMulti)
		if rd.CatchUpMulti, err = catchUp(ctx, p, rd.RawMulti.Changes); err != nil {
			return err
		}
		printCatchUp(rd.CatchUpMulti)

		if rd.Single, err = runLoad(ctx, sur, table, p, &ids, 1, f.writers, f.duration, f.maxBacklog); err != nil {
			return err
		}
		printLoad("single-record transactions", rd.Single)
		if rd.Multi, err = runLoad(ctx, sur, table, p, &ids, f.txnRecords, f.writers, f.duration, f.maxBacklog); err != nil {
			return err
		}
		printLoad(multi, rd.Multi)
		if rd.Lag, err = runLag(ctx, pg, sur, table, p, &ids, f.lagRate, f.lagDuration, f.lagWriters, f.poll); err != nil {
			return err
		}
		l := rd.Lag
		fmt.Printf("lag at %.0f changes/s (achieved %.0f/s, %d records, %d writers): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			l.TargetPerS, l.AchievedPerS, l.Records, l.Writers, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
		if l.Missing > 0 {
			fmt.Printf("  MISSING: %d records never reached PostgreSQL\n", l.Missing)
		}
		fmt.Printf("  SurrealDB write p50 %.1f ms, p99 %.1f ms; poll query p50 %.1f ms, p99 %.1f ms; %s\n", l.WriteP50Ms, l.WriteP99Ms, l.PollP50Ms, l.PollP99Ms, describe(l.Pipeline))
		if err := p.stop(); err != nil {
			return fmt.Errorf("the pipeline: %w", err)
		}

		if rd.PGUpsert, err = pgUpsert(ctx, pg, table, f.pgRows, f.pgBatch); err != nil {
			return err
		}
		fmt.Printf("PostgreSQL upsert (%d rows/txn, 1 connection): %.0f rows/s (%d rows)\n", f.pgBatch, rd.PGUpsert.PerS, rd.PGUpsert.Rows)
		res.Rounds = append(res.Rounds, rd)
	}
	if res.Verified, err = verify(ctx, pg, sur); err != nil {
		return err
	}
	fmt.Printf("\nverified: %d SurrealDB records, %d PostgreSQL rows\n", res.Verified.SurrealRecords, res.Verified.PGRows)
	res.LoadEnd = harness.LoadAverage()
	res.Summary = summarize(res.Rounds, f.lagRate)
	s := res.Summary

	fmt.Printf("\nmedians of %d rounds (load average %.1f at start, %.1f at end):\n", f.rounds, res.LoadStart, res.LoadEnd)
	fmt.Printf("raw SurrealDB writes, single-record transactions: %8.0f changes/s\n", s.RawSingleMedian)
	fmt.Printf("raw SurrealDB writes, %-27s %8.0f changes/s\n", multi+":", s.RawMultiMedian)
	fmt.Printf("raw PostgreSQL upsert, %d rows/txn:            %8.0f rows/s\n", f.pgBatch, s.PGUpsertMedian)
	fmt.Printf("catch-up (pipeline alone), single-record transactions: %8.0f changes/s\n", s.CatchUpSingleMedian)
	fmt.Printf("catch-up (pipeline alone), %-27s %8.0f changes/s\n", multi+":", s.CatchUpMultiMedian)
	fmt.Printf("sustained, single-record transactions: %8.0f changes/s = %5.1f%% of raw; kept up in %d of %d rounds\n", s.SingleMedian, 100*s.SingleRatio, s.SingleKeptUp, f.rounds)
	fmt.Printf("sustained, %-27s %8.0f changes/s = %5.1f%% of raw; kept up in %d of %d rounds\n", multi+":", s.MultiMedian, 100*s.MultiRatio, s.MultiKeptUp, f.rounds)
	fmt.Printf("lag at %.0f changes/s (achieved %.0f/s): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", s.LagRate, s.LagAchievedRate, s.LagP50Median, s.LagP90Median, s.LagP99Median, s.LagMaxMedian)
	file, err := harness.Save("reverse", date, res)
	if err != nil {
		return err
	}
	fmt.Println("saved", file)
	if s.LostChanges > 0 || s.MissingLagRecords > 0 {
		fmt.Printf("LOST: %d changes of the throughput phases and %d records of the lag phases never reached PostgreSQL\n", s.LostChanges, s.MissingLagRecords)
	}
	if s.LostChanges > 0 || s.MissingLagRecords > 0 || !res.Verified.Same {
		return fmt.Errorf("the pipeline lost changes: %d in the throughput phases, %d records of the lag phases; PostgreSQL has %d rows, SurrealDB %d records",
			s.LostChanges, s.MissingLagRecords, res.Verified.PGRows, res.Verified.SurrealRecords)
	}
	return nil
}

// verify counts the records of the replicated table on both sides; the
// pipeline has applied everything by then (each phase waited for it).
func verify(ctx context.Context, pg config.Postgres, sur config.Surreal) (verified, error) {
	var v verified
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return v, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if v.SurrealRecords, err = harness.Count(ctx, db, table); err != nil {
		return v, err
	}
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return v, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM public.review").Scan(&v.PGRows); err != nil {
		return v, err
	}
	v.Same = v.PGRows == v.SurrealRecords
	return v, nil
}

// exec runs one statement in pg's database.
func exec(ctx context.Context, pg config.Postgres, sql string) error {
	c, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

// dropOrigin drops the run's replication origin (a cluster-wide object
// that outlives the database).
func dropOrigin(admin config.Postgres, origin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := postgres.ConnectOne(ctx, admin, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dropping replication origin %s: %v\n", origin, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1", origin); err != nil {
		fmt.Fprintf(os.Stderr, "dropping replication origin %s: %v\n", origin, err)
	}
}

// Command streaming measures pgsurreal's change stream from PostgreSQL to
// SurrealDB with the pipeline (sync.Run) running in this process, after
// its (empty) snapshot. Each round measures, in this order:
//
//	the raw ingest limit: rows of the same shape read from PostgreSQL and
//	    sent as `INSERT INTO t $rows` of 200 rows by 2 plain SDK
//	    connections, while the pipeline idles;
//	the highest sustained change rate: 4 connections insert as fast as
//	    they can for 20 s, first in single-row transactions, then in
//	    100-row ones, pausing only while more than -max-backlog rows are
//	    committed but not yet applied (so a pipeline slower than
//	    PostgreSQL sets the pace instead of piling up minutes of backlog);
//	    the applied rate comes from the pipeline's own metrics;
//	the end-to-end lag at a fixed 2,000 single-row transactions/s for
//	    20 s: from each row's commit, seen by the client, to when a poller
//	    asking SurrealDB every 5 ms first sees the record. Target: p99
//	    under 250 ms.
//
// Medians over the rounds (3 by default) are printed, with the sustained
// rates as ratios to the raw limit, and saved with every round's figures
// to bench/results/streaming-<date>.json. Run it with
//
//	make bench-streaming        (or: go run ./bench/streaming)
//
// It uses the shared test stack (started if needed, and then stopped
// again), a private one with -private-stack, or the servers named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL; it creates its
// own PostgreSQL database, slot and SurrealDB namespace and drops them at
// the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/bench/internal/throughput"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

const targetLagP99Ms = 250

type flags struct {
	throughput.Flags
	lagRate     float64
	lagDuration time.Duration
	lagWriters  int
	poll        time.Duration
	rawRows     int
	rawBatch    int
	rawWriters  int
}

func main() {
	var f flags
	f.Register()
	flag.Float64Var(&f.lagRate, "lag-rate", 2000, "single-row transactions per second in the lag phase")
	flag.DurationVar(&f.lagDuration, "lag-duration", 20*time.Second, "length of the lag phase")
	flag.IntVar(&f.lagWriters, "lag-writers", 8, "PostgreSQL connections sharing the lag phase's schedule")
	flag.DurationVar(&f.poll, "poll", 5*time.Millisecond, "how often the lag phase asks SurrealDB for new rows")
	flag.IntVar(&f.rawRows, "raw-rows", 50_000, "rows of each raw ingest measurement")
	flag.IntVar(&f.rawBatch, "raw-batch", 200, "rows per INSERT statement of the raw client")
	flag.IntVar(&f.rawWriters, "raw-writers", 2, "concurrent connections of the raw client")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, f)
	stop()
	var miss *missed
	switch {
	case errors.As(err, &miss):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench/streaming:", err)
		os.Exit(1)
	}
}

// missed is a run that worked but missed a target.
type missed struct{ what string }

func (m *missed) Error() string { return "target missed: " + m.what }

type result struct {
	Benchmark string       `json:"benchmark"`
	Date      string       `json:"date"`
	Host      harness.Host `json:"host"`
	Servers   string       `json:"servers"`
	LoadStart float64      `json:"load_average_at_start"`
	LoadEnd   float64      `json:"load_average_at_end"`
	Table     string       `json:"table"`
	Settings  settings     `json:"settings"`
	Summary   summary      `json:"summary"`
	Rounds    []round      `json:"rounds"`

	SnapshotWaitS float64 `json:"snapshot_wait_seconds"`
}

// summary holds the medians over rounds and the ratios.
type summary struct {
	RawMedian float64 `json:"raw_insert_rows_per_s_median"`

	SingleRowMedian float64 `json:"single_row_txn_applied_rows_per_s_median"`
	SingleRowRatio  float64 `json:"single_row_txn_ratio_to_raw"`
	SingleRowKeptUp int     `json:"single_row_txn_rounds_kept_up"`
	MultiRowMedian  float64 `json:"multi_row_txn_applied_rows_per_s_median"`
	MultiRowRatio   float64 `json:"multi_row_txn_ratio_to_raw"`
	MultiRowKeptUp  int     `json:"multi_row_txn_rounds_kept_up"`

	LagRate        float64 `json:"lag_rows_per_s"`
	LagP50Median   float64 `json:"lag_p50_ms_median"`
	LagP99Median   float64 `json:"lag_p99_ms_median"`
	TargetLagP99Ms float64 `json:"target_lag_p99_ms"`
	LagTargetMet   bool    `json:"lag_target_met"`
}

// round is one pass of every measurement.
type round struct {
	Raw       harness.Rate `json:"raw_insert"`
	SingleRow loadResult   `json:"single_row_transactions"`
	MultiRow  loadResult   `json:"multi_row_transactions"`
	Lag       lagResult    `json:"lag"`
}

type settings struct {
	BatchSize      int    `json:"batch_size"`
	Heartbeat      string `json:"heartbeat"`
	StatusInterval string `json:"status_interval"`
	Writers        int    `json:"writers"`
	RowsPerTxn     int    `json:"multi_row_txn_rows"`
	MaxBacklog     int64  `json:"max_backlog_rows"`
	RawRows        int    `json:"raw_rows_per_round"`
	RawBatch       int    `json:"raw_rows_per_statement"`
	RawWriters     int    `json:"raw_writers"`
}

func run(ctx context.Context, f flags) error {
	date := time.Now()
	load := harness.LoadAverage()
	srv, err := harness.Start(ctx, f.Private)
	if err != nil {
		return err
	}
	defer srv.Close(f.KeepStack)
	name := harness.Name("bench_streaming")
	pg, dropDB, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	defer dropDB()
	_, removeNS := srv.Namespace(name, "x")
	defer removeNS()
	fmt.Printf("servers: %s\nPostgreSQL database, slot and SurrealDB namespace: %s\n", srv.Where, name)
	if err := setup(ctx, pg, f.rawRows); err != nil {
		return err
	}

	log := harness.Logger(f.Verbose)
	sur, _ := srv.Namespace(name, "pipeline")
	o := throughput.Options(pg, sur, name, f.BatchSize, log)
	res := result{Benchmark: "streaming", Date: date.UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where, LoadStart: load,
		Table: "ev (id int8 pk, n int4, s text, at timestamptz default clock_timestamp())",
		Settings: settings{BatchSize: o.Sync.BatchSize, Heartbeat: o.Sync.Heartbeat.String(), StatusInterval: o.Sync.StatusInterval.String(),
			Writers: f.Writers, RowsPerTxn: f.BigTxn, MaxBacklog: f.MaxBacklog, RawRows: f.rawRows, RawBatch: f.rawBatch, RawWriters: f.rawWriters}}
	// Create the target database first: the pipeline's connections
	// would otherwise race to create it and retry on the conflict.
	pre, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	_ = pre.Close(ctx)
	p, err := throughput.Start(o, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err := p.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pipeline:", err)
		}
	}()
	t0 := time.Now()
	if err := p.WaitStreaming(ctx, sur, name, 2*time.Minute); err != nil {
		return err
	}
	res.SnapshotWaitS = harness.Round(time.Since(t0).Seconds(), 2)
	fmt.Printf("pipeline streaming after %.1f s\n", res.SnapshotWaitS)

	var ids atomic.Int64
	ids.Store(1)
	multi := fmt.Sprintf("%d-row transactions", f.BigTxn)
	for i := 1; i <= f.Rounds; i++ {
		fmt.Printf("\nround %d/%d\n", i, f.Rounds)
		var rd round
		// The raw limit is measured while the pipeline idles (heartbeats
		// only), into a table of its own in another database.
		rawSur, _ := srv.Namespace(name, "raw")
		if rd.Raw, err = harness.RawIngest(ctx, pg, rawSource, rawSur, fmt.Sprintf("ev_%d", i), f.rawBatch, f.rawWriters); err != nil {
			return err
		}
		fmt.Printf("raw INSERT (%d rows/stmt, %d writers): %.0f rows/s (%d rows)\n", f.rawBatch, f.rawWriters, rd.Raw.PerS, rd.Raw.Rows)
		if rd.SingleRow, err = runLoad(ctx, pg, p, &ids, 1, f.Writers, f.Duration, f.MaxBacklog); err != nil {
			return err
		}
		printLoad("single-row transactions", rd.SingleRow)
		if rd.MultiRow, err = runLoad(ctx, pg, p, &ids, f.BigTxn, f.Writers, f.Duration, f.MaxBacklog); err != nil {
			return err
		}
		printLoad(multi, rd.MultiRow)
		if rd.Lag, err = runLag(ctx, pg, sur, p, &ids, f.lagRate, f.lagDuration, f.lagWriters, f.poll); err != nil {
			return err
		}
		l := rd.Lag
		fmt.Printf("lag at %.0f rows/s (achieved %.0f/s, %d rows, %d writers): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			l.TargetPerS, l.AchievedPerS, l.Rows, l.Writers, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
		fmt.Printf("  poll query p50 %.1f ms, p99 %.1f ms; %s\n", l.PollP50Ms, l.PollP99Ms, describe(l.Pipeline))
		res.Rounds = append(res.Rounds, rd)
	}
	res.LoadEnd = harness.LoadAverage()
	res.Summary = summarize(res.Rounds, f.lagRate)
	s := res.Summary

	fmt.Printf("\nmedians of %d rounds (load average %.1f at start, %.1f at end):\n", f.Rounds, res.LoadStart, res.LoadEnd)
	fmt.Printf("raw ingest limit (INSERT %d rows/stmt, %d writers): %8.0f rows/s\n", f.rawBatch, f.rawWriters, s.RawMedian)
	fmt.Printf("sustained, single-row transactions:     %8.0f rows/s = %5.1f%% of raw; kept up in %d of %d rounds\n", s.SingleRowMedian, 100*s.SingleRowRatio, s.SingleRowKeptUp, f.Rounds)
	fmt.Printf("sustained, %-28s %8.0f rows/s = %5.1f%% of raw; kept up in %d of %d rounds\n", multi+":", s.MultiRowMedian, 100*s.MultiRowRatio, s.MultiRowKeptUp, f.Rounds)
	fmt.Printf("lag at %.0f rows/s: p50 %.1f ms, p99 %.1f ms (target p99 < %d ms) %s\n", s.LagRate, s.LagP50Median, s.LagP99Median, targetLagP99Ms, verdict(s.LagTargetMet))
	file, err := harness.Save("streaming", date, res)
	if err != nil {
		return err
	}
	fmt.Println("saved", file)
	if !s.LagTargetMet {
		return &missed{fmt.Sprintf("lag p99 %.1f ms at %.0f rows/s, not under %d ms", s.LagP99Median, s.LagRate, targetLagP99Ms)}
	}
	return nil
}

func summarize(rounds []round, lagRate float64) summary {
	var raw, single, multi, p50, p99 []float64
	s := summary{LagRate: lagRate, TargetLagP99Ms: targetLagP99Ms}
	for _, r := range rounds {
		raw = append(raw, r.Raw.PerS)
		single = append(single, r.SingleRow.AppliedPerSMedian)
		multi = append(multi, r.MultiRow.AppliedPerSMedian)
		p50 = append(p50, r.Lag.P50Ms)
		p99 = append(p99, r.Lag.P99Ms)
		if r.SingleRow.KeptUp {
			s.SingleRowKeptUp++
		}
		if r.MultiRow.KeptUp {
			s.MultiRowKeptUp++
		}
	}
	s.RawMedian = harness.Round(harness.Median(raw), 0)
	s.SingleRowMedian = harness.Round(harness.Median(single), 0)
	s.MultiRowMedian = harness.Round(harness.Median(multi), 0)
	s.SingleRowRatio = harness.Round(s.SingleRowMedian/s.RawMedian, 3)
	s.MultiRowRatio = harness.Round(s.MultiRowMedian/s.RawMedian, 3)
	s.LagP50Median = harness.Round(harness.Median(p50), 1)
	s.LagP99Median = harness.Round(harness.Median(p99), 1)
	s.LagTargetMet = s.LagP99Median < targetLagP99Ms
	return s
}

func printLoad(what string, r loadResult) {
	fmt.Printf("%s, %d writers, %.1f s: inserted %.0f rows/s; applied %.0f rows/s (median per second %.0f); backlog at end %d rows, drained in %.2f s; writers throttled %.1f s; %s\n",
		what, r.Writers, r.Seconds, r.InsertedPerS, r.AppliedPerS, r.AppliedPerSMedian, r.BacklogAtEnd, r.DrainSeconds, r.ThrottledSeconds, keptUp(r))
	fmt.Printf("  %s\n", describe(r.Pipeline))
}

func describe(g throughput.GroupStats) string {
	return fmt.Sprintf("pipeline: %d SurrealDB transactions of %.1f rows on average, %.1f ms each", g.Groups, g.MeanChanges, g.MeanApplyMs)
}

func keptUp(r loadResult) string {
	if r.KeptUp {
		return "kept up (PostgreSQL inserts set the pace)"
	}
	return "did not keep up (the pipeline set the pace)"
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func perS(rs []harness.Rate) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.PerS
	}
	return out
}

// setup creates the replicated table ev and ev_src, rows of the same
// shape for the raw ingest limit.
func setup(ctx context.Context, pg config.Postgres, rawRows int) error {
	conn, err := postgres.ConnectOne(ctx, pg, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range []string{
		`CREATE TABLE ev (id int8 PRIMARY KEY, n int4 NOT NULL, s text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		`CREATE TABLE ev_src (LIKE ev INCLUDING ALL)`,
		`INSERT INTO ev_src (id, n, s) SELECT g, (g % 1000)::int4, 'row ' || g FROM generate_series(1, $1::int8) g`,
		`VACUUM (FREEZE, ANALYZE) ev_src`,
	} {
		var args []any
		if strings.Contains(s, "$1") {
			args = []any{rawRows}
		}
		if _, err := conn.Exec(ctx, s, args...); err != nil {
			return fmt.Errorf("creating the tables: %w", err)
		}
	}
	return nil
}

var rawSource = harness.Source{
	Query: "SELECT id, n, s, at FROM ev_src",
	Doc: func(r pgx.Rows) (map[string]any, error) {
		var (
			id int64
			n  int32
			s  string
			at time.Time
		)
		if err := r.Scan(&id, &n, &s, &at); err != nil {
			return nil, err
		}
		return map[string]any{"id": id, "n": int64(n), "s": s, "at": models.CustomDateTime{Time: at}}, nil
	},
}

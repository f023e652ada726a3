// Command snapshot measures pgsurreal's one-off snapshot of a large
// PostgreSQL table into SurrealDB, next to two baselines measured in the
// same run against the same SurrealDB server:
//
//	(a) pgsurreal: sync.Snapshot of the table (snapshot_workers 2), after
//	    which SurrealDB must hold exactly as many records as the table
//	    has rows;
//	(b) the raw ingest limit: the same rows read from PostgreSQL and sent
//	    as `INSERT INTO t $rows RETURN NONE` statements of 200 rows by 2
//	    concurrent plain SDK connections, values mapped minimally;
//	(c) a per-row baseline: one `UPSERT type::record($t, $id) CONTENT $doc
//	    RETURN NONE` request per row, one at a time, on a sample.
//
// Targets: (a) >= 70% of (b) and >= 10x (c). (b) runs first; with
// -rounds > 1, (a) and (b) alternate which goes first and medians are
// reported. Run it with
//
//	make bench-snapshot        (or: go run ./bench/snapshot -rows 1000000)
//
// It uses the shared test stack (started if needed, and then stopped
// again), a private one with -private-stack, or the servers named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL; it creates its
// own PostgreSQL database and SurrealDB namespace and drops both at the
// end. The result is saved to bench/results/snapshot-<date>.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gofrs/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// Targets from the project's benchmark plan.
const (
	targetOfRaw    = 0.70
	targetOfPerRow = 10.0
)

type flags struct {
	rows       int
	rounds     int
	upsertRows int
	upsertRnds int
	batch      int
	writers    int
	workers    int
	verbose    bool
	private    bool
	keepStack  bool
	keep       bool
}

func main() {
	var f flags
	flag.IntVar(&f.rows, "rows", 1_000_000, "rows in the table")
	flag.IntVar(&f.rounds, "rounds", 1, "rounds of (a) and (b), alternating which goes first; medians are reported")
	flag.IntVar(&f.upsertRows, "upsert-rows", 10_000, "rows of the per-row UPSERT sample (c)")
	flag.IntVar(&f.upsertRnds, "upsert-rounds", 4, "rounds the per-row sample is split into")
	flag.IntVar(&f.batch, "batch", 200, "rows per INSERT statement of the raw client (b)")
	flag.IntVar(&f.writers, "writers", 2, "concurrent connections of the raw client (b)")
	flag.IntVar(&f.workers, "workers", 2, "sync.snapshot_workers of pgsurreal (a)")
	flag.BoolVar(&f.verbose, "v", false, "log pgsurreal at info level")
	flag.BoolVar(&f.keep, "keep", false, "keep the PostgreSQL database and SurrealDB namespace (for a look afterwards)")
	flag.BoolVar(&f.private, "private-stack", false, "run against a stack of the benchmarks' own (.pgsurreal/bench, ports 54349/18349) instead of the shared test stack")
	flag.BoolVar(&f.keepStack, "keep-stack", false, "leave the stack running if this run started it")
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
		fmt.Fprintln(os.Stderr, "bench/snapshot:", err)
		os.Exit(1)
	}
}

// missed is a run that worked but missed a target.
type missed struct{ what string }

func (m *missed) Error() string { return "target missed: " + m.what }

// result is the saved JSON.
type result struct {
	Benchmark string       `json:"benchmark"`
	Date      string       `json:"date"`
	Host      harness.Host `json:"host"`
	Servers   string       `json:"servers"`
	LoadStart float64      `json:"load_average_at_start"`
	LoadEnd   float64      `json:"load_average_at_end"`
	Rows      int          `json:"rows"`
	Columns   []string     `json:"columns"`
	Rounds    int          `json:"rounds"`
	Settings  settings     `json:"settings"`
	Generate  float64      `json:"generate_seconds"`

	SnapshotMedian float64 `json:"pgsurreal_snapshot_rows_per_s_median"`
	RawMedian      float64 `json:"raw_insert_rows_per_s_median"`
	UpsertMedian   float64 `json:"per_row_upsert_rows_per_s_median"`
	RatioOfRaw     float64 `json:"ratio_snapshot_to_raw"`
	RatioOfPerRow  float64 `json:"ratio_snapshot_to_per_row"`
	TargetOfRaw    float64 `json:"target_ratio_to_raw"`
	TargetOfPerRow float64 `json:"target_ratio_to_per_row"`
	Verified       bool    `json:"verified_record_count"`
	// Restarts counts the restarts of a private stack's servers, one
	// before each measurement.
	Restarts int `json:"server_restarts"`

	Snapshot []harness.Rate `json:"pgsurreal_snapshot"`
	Raw      []harness.Rate `json:"raw_insert"`
	Upsert   []harness.Rate `json:"per_row_upsert"`
}

type settings struct {
	SnapshotWorkers   int `json:"snapshot_workers"`
	SnapshotChunkRows int `json:"snapshot_chunk_rows"`
	RawBatch          int `json:"raw_rows_per_statement"`
	RawWriters        int `json:"raw_writers"`
	UpsertRows        int `json:"per_row_sample_rows"`
}

func run(ctx context.Context, f flags) error {
	date := time.Now()
	load := harness.LoadAverage()
	srv, err := harness.Start(ctx, f.private)
	if err != nil {
		return err
	}
	defer srv.Close(f.keepStack)
	name := harness.Name("bench_snapshot")
	pg, dropDB, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	_, removeNS := srv.Namespace(name, "x")
	if f.keep {
		fmt.Printf("keeping PostgreSQL database and SurrealDB namespace %s\n", name)
	} else {
		defer dropDB()
		defer removeNS()
	}

	fmt.Printf("servers: %s\nPostgreSQL database and SurrealDB namespace: %s\n", srv.Where, name)
	fmt.Printf("generating %d rows of %d columns ...\n", f.rows, len(harness.BenchColumns))
	t0 := time.Now()
	if err := harness.GenerateBench(ctx, pg, f.rows); err != nil {
		return err
	}
	gen := time.Since(t0)
	fmt.Printf("generated in %.1f s\n\n", gen.Seconds())

	sc := config.Default().Sync
	sc.Include = []string{"public.bench"}
	sc.SnapshotWorkers = f.workers
	lvl := slog.LevelWarn
	if f.verbose {
		lvl = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	res := result{
		Benchmark: "snapshot", Date: date.UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where, LoadStart: load,
		Rows: f.rows, Columns: harness.BenchColumns, Rounds: f.rounds, Generate: harness.Round(gen.Seconds(), 1),
		Settings:    settings{SnapshotWorkers: f.workers, SnapshotChunkRows: sc.SnapshotChunkRows, RawBatch: f.batch, RawWriters: f.writers, UpsertRows: f.upsertRows},
		TargetOfRaw: targetOfRaw, TargetOfPerRow: targetOfPerRow, Verified: true,
	}
	for round := 1; round <= f.rounds; round++ {
		snap := func() error {
			sur, _ := srv.Namespace(name, fmt.Sprintf("pgsurreal_%d", round))
			r, err := snapshot(ctx, pg, sur, sc, log, f.rows)
			if err != nil {
				return err
			}
			res.Snapshot = append(res.Snapshot, r)
			return harness.RemoveTable(ctx, sur, "bench")
		}
		raw := func() error {
			sur, _ := srv.Namespace(name, fmt.Sprintf("raw_%d", round))
			r, err := harness.RawIngest(ctx, pg, source(0), sur, "bench", f.batch, f.writers)
			if err != nil {
				return err
			}
			res.Raw = append(res.Raw, r)
			return harness.RemoveTable(ctx, sur, "bench")
		}
		// Each copy is removed once measured, so that both start with the
		// same data on the server. Alternate which goes first, so drift
		// favours neither; the first round starts with the baseline, so a
		// single round errs on the side of a lower ratio.
		first, second := raw, snap
		if round%2 == 0 {
			first, second = snap, raw
		}
		for _, measure := range []func() error{first, second} {
			if restarted, err := srv.Restart(ctx); err != nil {
				return err
			} else if restarted {
				res.Restarts++
			}
			if err := measure(); err != nil {
				return err
			}
		}
		a, b := res.Snapshot[len(res.Snapshot)-1], res.Raw[len(res.Raw)-1]
		fmt.Printf("round %d/%d: pgsurreal snapshot %.0f rows/s (%.1f s, %.1f s CPU here, %d records verified); raw INSERT %.0f rows/s (%.1f s, %.1f s CPU here)\n",
			round, f.rounds, a.PerS, a.Seconds, a.CPUSeconds, a.Rows, b.PerS, b.Seconds, b.CPUSeconds)
	}

	docs, err := harness.ReadDocs(ctx, pg, source(f.upsertRows))
	if err != nil {
		return err
	}
	if restarted, err := srv.Restart(ctx); err != nil {
		return err
	} else if restarted {
		res.Restarts++
	}
	sur, _ := srv.Namespace(name, "upsert")
	if res.Upsert, err = harness.PerRowUpsert(ctx, sur, "bench", docs, f.upsertRnds); err != nil {
		return err
	}
	for i, r := range res.Upsert {
		fmt.Printf("per-row UPSERT round %d/%d: %.0f rows/s (%d rows)\n", i+1, len(res.Upsert), r.PerS, r.Rows)
	}

	res.LoadEnd = harness.LoadAverage()
	res.SnapshotMedian = harness.Round(harness.Median(perS(res.Snapshot)), 0)
	res.RawMedian = harness.Round(harness.Median(perS(res.Raw)), 0)
	res.UpsertMedian = harness.Round(harness.Median(perS(res.Upsert)), 0)
	res.RatioOfRaw = harness.Round(res.SnapshotMedian/res.RawMedian, 3)
	res.RatioOfPerRow = harness.Round(res.SnapshotMedian/res.UpsertMedian, 1)
	fmt.Printf("\nload average %.1f at start, %.1f at end\n", res.LoadStart, res.LoadEnd)
	fmt.Printf("(a) pgsurreal snapshot:          %8.0f rows/s (median of %d)\n", res.SnapshotMedian, len(res.Snapshot))
	fmt.Printf("(b) raw INSERT, %d rows/stmt:   %8.0f rows/s (median of %d)\n", f.batch, res.RawMedian, len(res.Raw))
	fmt.Printf("(c) per-row UPSERT:             %8.0f rows/s (median of %d)\n", res.UpsertMedian, len(res.Upsert))
	fmt.Printf("(a)/(b): %.1f%% (target >= %.0f%%) %s\n", 100*res.RatioOfRaw, 100*targetOfRaw, verdict(res.RatioOfRaw >= targetOfRaw))
	fmt.Printf("(a)/(c): %.1fx (target >= %.0fx) %s\n", res.RatioOfPerRow, targetOfPerRow, verdict(res.RatioOfPerRow >= targetOfPerRow))
	file, err := harness.Save("snapshot", date, res)
	if err != nil {
		return err
	}
	fmt.Println("saved", file)
	switch {
	case res.RatioOfRaw < targetOfRaw:
		return &missed{fmt.Sprintf("snapshot at %.1f%% of the raw ingest limit, below %.0f%%", 100*res.RatioOfRaw, 100*targetOfRaw)}
	case res.RatioOfPerRow < targetOfPerRow:
		return &missed{fmt.Sprintf("snapshot at %.1fx the per-row baseline, below %.0fx", res.RatioOfPerRow, targetOfPerRow)}
	}
	return nil
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

// snapshot runs pgsurreal's one-off snapshot into sur and checks that
// SurrealDB then holds exactly rows records.
func snapshot(ctx context.Context, pg config.Postgres, sur config.Surreal, sc config.Sync, log *slog.Logger, rows int) (harness.Rate, error) {
	start, cpu := time.Now(), harness.CPUTime()
	n, err := pgsync.Snapshot(ctx, pgsync.Options{Postgres: pg, Surreal: sur, Sync: sc, Log: log})
	if err != nil {
		return harness.Rate{}, fmt.Errorf("pgsurreal snapshot: %w", err)
	}
	r := harness.NewRate(n, time.Since(start), harness.CPUTime()-cpu)
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return harness.Rate{}, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	got, err := harness.Count(ctx, db, "bench")
	if err != nil {
		return harness.Rate{}, err
	}
	if n != int64(rows) || got != int64(rows) {
		return harness.Rate{}, fmt.Errorf("pgsurreal snapshot copied %d rows and SurrealDB holds %d records of bench, want %d", n, got, rows)
	}
	return r, nil
}

// source reads the table (limit rows; 0 means all) with the raw client's
// minimal mapping: binary values straight into the SDK's types.
func source(limit int) harness.Source {
	q := "SELECT id, qty, name, price::text, score, active, created_at, ref, attrs, day FROM bench"
	var args []any
	if limit > 0 {
		q += " ORDER BY id LIMIT $1"
		args = []any{limit}
	}
	return harness.Source{Query: q, Args: args, Doc: func(r pgx.Rows) (map[string]any, error) {
		var (
			id           int64
			qty          int32
			name, price  string
			score        *float64
			active       bool
			created, day time.Time
			ref          [16]byte
			attrs        map[string]any
		)
		if err := r.Scan(&id, &qty, &name, &price, &score, &active, &created, &ref, &attrs, &day); err != nil {
			return nil, err
		}
		doc := map[string]any{
			"id": id, "qty": int64(qty), "name": name, "price": models.DecimalString(price), "score": nil,
			"active": active, "created_at": models.CustomDateTime{Time: created}, "ref": models.UUID{UUID: uuid.UUID(ref)},
			"attrs": attrs, "day": models.CustomDateTime{Time: day},
		}
		if score != nil {
			doc["score"] = *score
		}
		return doc, nil
	}}
}

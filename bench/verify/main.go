// Command verify measures `pgsurreal verify` (internal/verify) on a
// large table: a fresh PostgreSQL table of 1,000,000 rows and 10 columns
// of mixed types (the snapshot benchmark's), copied into SurrealDB by
// pgsurreal's own snapshot, so the records are exactly what replication
// writes. Four measurements, each -rounds times (3), medians reported:
//
//	verify(0):   verify.Run of the identical tables; it must report 0
//	             differences;
//	verify(100): the same after 100 differences were injected directly in
//	             SurrealDB (40 records changed, 30 deleted, 30 extra); it
//	             must report exactly those, by kind; the records are
//	             restored afterwards;
//	(a) read both sides: every row read from PostgreSQL (verify's query,
//	             text format) and every record from SurrealDB (verify's
//	             paging, 2000 records a page), at the same time, discarded:
//	             the floor under a streamed compare;
//	(b) naive compare: both sides fetched whole into memory (rows mapped
//	             as verify and the sync map them), then compared by id; it
//	             must find the same differences.
//
// Targets: verify(0) <= 1.5x (a); verify(100) < 10% more than verify(0).
// Unlike the snapshot benchmark, this one never restarts the servers: a
// restart of the SurrealDB dev server after the 1M-record load lost a
// few acknowledged records (see bench/README.md), and these
// measurements only read.
// No sync runs, so verify's re-check waits verify.wait_timeout (-wait,
// 2s) once per run with differences and notes that the sync is not
// running. Run it with
//
//	make bench-verify        (or: go run ./bench/verify -rows 1000000)
//
// It uses the shared test stack (started if needed, and then stopped
// again), a private one with -private-stack, or the servers named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL; it creates its
// own PostgreSQL database and SurrealDB namespace and drops both at the
// end. The result is saved to bench/results/verify-<date>.json.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// Targets from issue 7.
const (
	targetOfReadBoth = 1.5
	targetDiffCost   = 0.10
)

type flags struct {
	rows       int
	rounds     int
	chunkRows  int
	wait       time.Duration
	cpuprofile string
	note       string
	verbose    bool
	keep       bool
	private    bool
	keepStack  bool
}

func main() {
	var f flags
	flag.IntVar(&f.rows, "rows", 1_000_000, "rows in the table (at least 1000)")
	flag.IntVar(&f.rounds, "rounds", 3, "rounds of the four measurements, each in the reverse order of the one before; medians are reported")
	flag.IntVar(&f.chunkRows, "chunk-rows", config.Default().Verify.ChunkRows, "verify.chunk_rows")
	flag.DurationVar(&f.wait, "wait", 2*time.Second, "verify.wait_timeout (no sync runs: the re-check waits this long once per run with differences)")
	flag.StringVar(&f.cpuprofile, "cpuprofile", "", "after the rounds, profile one more verify of the identical tables (not counted) into this file")
	flag.StringVar(&f.note, "note", "", "a note saved with the results")
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
		fmt.Fprintln(os.Stderr, "bench/verify:", err)
		os.Exit(1)
	}
}

// missed is a run that worked but missed a target.
type missed struct{ what string }

func (m *missed) Error() string { return "target missed: " + m.what }

// result is the saved JSON.
type result struct {
	Benchmark string         `json:"benchmark"`
	Date      string         `json:"date"`
	Host      harness.Host   `json:"host"`
	Servers   string         `json:"servers"`
	Note      string         `json:"note,omitempty"`
	LoadStart float64        `json:"load_average_at_start"`
	LoadEnd   float64        `json:"load_average_at_end"`
	Rows      int            `json:"rows"`
	Columns   []string       `json:"columns"`
	Rounds    int            `json:"rounds"`
	Settings  settings       `json:"settings"`
	Generate  float64        `json:"generate_seconds"`
	Load      float64        `json:"snapshot_seconds"`
	Drift     map[string]int `json:"injected_differences"`

	Verify0Median   float64 `json:"verify_identical_seconds_median"`
	Verify100Median float64 `json:"verify_100_differences_seconds_median"`
	ReadBothMedian  float64 `json:"read_both_sides_seconds_median"`
	NaiveMedian     float64 `json:"naive_compare_seconds_median"`
	Verify0PerS     float64 `json:"verify_identical_rows_per_s_median"`
	Verify100PerS   float64 `json:"verify_100_differences_rows_per_s_median"`
	ReadBothPerS    float64 `json:"read_both_sides_rows_per_s_median"`
	NaivePerS       float64 `json:"naive_compare_rows_per_s_median"`

	RatioOfReadBoth float64 `json:"ratio_verify_to_read_both"`
	DiffCost        float64 `json:"verify_100_over_verify_0_minus_1"`
	RatioOfNaive    float64 `json:"ratio_verify_to_naive"`
	// The same ratios taken within each round (measurements run next to
	// each other) and their median: less swayed by load that drifts.
	RoundReadBoth  []float64 `json:"ratio_verify_to_read_both_by_round"`
	RoundDiffCost  []float64 `json:"verify_100_over_verify_0_minus_1_by_round"`
	MedReadBoth    float64   `json:"ratio_verify_to_read_both_median_of_rounds"`
	MedDiffCost    float64   `json:"verify_100_over_verify_0_minus_1_median_of_rounds"`
	TargetReadBoth float64   `json:"target_ratio_to_read_both"`
	TargetDiffCost float64   `json:"target_100_differences_extra_cost"`

	WarmUp    measurement   `json:"warm_up_read_both_sides"`
	Verify0   []measurement `json:"verify_identical"`
	Verify100 []measurement `json:"verify_100_differences"`
	ReadBoth  []measurement `json:"read_both_sides"`
	Naive     []measurement `json:"naive_compare"`
	// Naive100 is the naive compare run once on the drifted copy, to
	// check that it finds the same differences (not part of the medians).
	Naive100 *measurement `json:"naive_compare_100_differences"`
	Profiled *measurement `json:"profiled_verify_identical,omitempty"`
}

type settings struct {
	ChunkRows   int    `json:"verify_chunk_rows"`
	WaitTimeout string `json:"verify_wait_timeout"`
	PageSize    int    `json:"surrealdb_page_records"`
}

func run(ctx context.Context, f flags) error {
	if f.rows < 1000 || f.rounds < 1 {
		return errors.New("-rows must be at least 1000 and -rounds at least 1")
	}
	date := time.Now()
	loadAvg := harness.LoadAverage()
	srv, err := harness.Start(ctx, f.private)
	if err != nil {
		return err
	}
	defer srv.Close(f.keepStack)
	name := harness.Name("bench_verify")
	pg, dropDB, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	sur, removeNS := srv.Namespace(name, "bench")
	if f.keep {
		fmt.Printf("keeping PostgreSQL database and SurrealDB namespace %s\n", name)
	} else {
		defer dropDB()
		defer removeNS()
	}

	lvl := slog.LevelWarn
	if f.verbose {
		lvl = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	fmt.Printf("servers: %s\nPostgreSQL database and SurrealDB namespace: %s\n", srv.Where, name)
	fmt.Printf("generating %d rows of %d columns ...\n", f.rows, len(harness.BenchColumns))
	t0 := time.Now()
	if err := harness.GenerateBench(ctx, pg, f.rows); err != nil {
		return err
	}
	gen := time.Since(t0)
	cfg := config.Default()
	cfg.Postgres, cfg.Surreal = pg, sur
	cfg.Sync.Include = []string{pgTable}
	cfg.Verify.ChunkRows, cfg.Verify.WaitTimeout.Duration = f.chunkRows, f.wait
	fmt.Printf("generated in %.1f s; copying it into SurrealDB with pgsurreal's snapshot ...\n", gen.Seconds())
	t0 = time.Now()
	if err := load(ctx, pg, sur, cfg.Sync, log, f.rows); err != nil {
		return err
	}
	loaded := time.Since(t0)
	fmt.Printf("copied in %.1f s\n", loaded.Seconds())

	res := result{
		Benchmark: "verify", Date: date.UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where, Note: f.note, LoadStart: loadAvg,
		Rows: f.rows, Columns: harness.BenchColumns, Rounds: f.rounds, Generate: harness.Round(gen.Seconds(), 1), Load: harness.Round(loaded.Seconds(), 1),
		Settings:       settings{ChunkRows: f.chunkRows, WaitTimeout: f.wait.String(), PageSize: pageSize},
		Drift:          map[string]int{verify.Different: driftChanged, verify.Missing: driftDeleted, verify.Extra: driftExtra},
		TargetReadBoth: targetOfReadBoth, TargetDiffCost: targetDiffCost,
	}
	vlvl := slog.LevelError // the note that no sync runs is expected here; it is saved
	if f.verbose {
		vlvl = slog.LevelInfo
	}
	c := &contenders{cfg: cfg, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: vlvl})), pids: stackPIDs(ctx, f.private)}
	if res.WarmUp, err = c.readBoth(ctx); err != nil {
		return err
	}
	fmt.Printf("warm-up read of both sides (not counted): %.1f s\n\n", res.WarmUp.Seconds)

	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	d := newDrift(f.rows)
	steps := []func() error{
		func() error { // verify(0)
			m, err := c.verify(ctx)
			if err == nil {
				err = c.check("verify of the identical tables", m, f.rows, 0, nil)
			}
			res.Verify0 = append(res.Verify0, m)
			return err
		},
		func() error { // verify(100)
			if err := d.inject(ctx, db); err != nil {
				return fmt.Errorf("injecting differences: %w", err)
			}
			m, err := c.verify(ctx)
			if err == nil {
				err = c.check("verify with 100 differences", m, f.rows, driftTotal, res.Drift)
			}
			if err != nil {
				return err
			}
			res.Verify100 = append(res.Verify100, m)
			if res.Naive100 == nil { // once: the naive compare must find them too
				n, err := c.naive(ctx)
				if err == nil {
					err = c.check("naive compare with 100 differences", n, f.rows, driftTotal, res.Drift)
				}
				if err != nil {
					return err
				}
				res.Naive100 = &n
			}
			return d.restore(ctx, db)
		},
		func() error { // (a)
			m, err := c.readBoth(ctx)
			if err == nil && (m.Rows != int64(f.rows) || m.Records != int64(f.rows)) {
				err = fmt.Errorf("read both sides: %d rows and %d records, want %d of each", m.Rows, m.Records, f.rows)
			}
			res.ReadBoth = append(res.ReadBoth, m)
			return err
		},
		func() error { // (b)
			m, err := c.naive(ctx)
			if err == nil {
				err = c.check("naive compare", m, f.rows, 0, nil)
			}
			res.Naive = append(res.Naive, m)
			return err
		},
	}
	for round := 1; round <= f.rounds; round++ {
		// verify(0) runs next to both of the figures it is divided by,
		// each pair in the opposite order in the next round, so load
		// from elsewhere on the machine (it drifts over minutes) weighs
		// on both sides of a ratio alike: (a), verify(0), verify(100),
		// (b), then the reverse.
		order := []int{2, 0, 1, 3}
		if round%2 == 0 {
			order = []int{3, 1, 0, 2}
		}
		for _, i := range order {
			if err := steps[i](); err != nil {
				return err
			}
		}
		v0, v100, a, b := last(res.Verify0), last(res.Verify100), last(res.ReadBoth), last(res.Naive)
		fmt.Printf("round %d/%d:\n", round, f.rounds)
		printRound("verify(0)", v0)
		printRound("verify(100)", v100)
		printRound("(a) read both sides", a)
		printRound("(b) naive compare", b)
	}

	if f.cpuprofile != "" {
		m, err := profile(ctx, c, f.cpuprofile, f.rows)
		if err != nil {
			return err
		}
		res.Profiled = &m
		fmt.Printf("profiled verify of the identical tables (not counted): %.1f s, CPU profile in %s (go tool pprof -top %s)\n", m.Seconds, f.cpuprofile, f.cpuprofile)
	}

	res.LoadEnd = harness.LoadAverage()
	res.summarise()
	res.print()
	file, err := harness.Save("verify", date, res)
	if err != nil {
		return err
	}
	fmt.Println("saved", file)
	switch {
	case res.RatioOfReadBoth > targetOfReadBoth:
		return &missed{fmt.Sprintf("verify of identical tables took %.2fx the time to read both sides, above %.1fx", res.RatioOfReadBoth, targetOfReadBoth)}
	case res.DiffCost >= targetDiffCost:
		return &missed{fmt.Sprintf("100 differences cost %.1f%% more than none, not below %.0f%%", 100*res.DiffCost, 100*targetDiffCost)}
	}
	return nil
}

// check fails a measurement that did not read the whole table on both
// sides or found other differences than those injected. For the
// identical tables the replica holds rows records; with the drift, 30
// fewer (deleted) and 30 more (extra): the same count.
func (c *contenders) check(what string, m measurement, rows, diffs int, kinds map[string]int) error {
	if m.Rows != int64(rows) || m.Records != int64(rows) {
		return fmt.Errorf("%s read %d rows and %d records, want %d of each", what, m.Rows, m.Records, rows)
	}
	if m.Differences != diffs {
		return fmt.Errorf("%s found %d differences %v, want %d %v", what, m.Differences, m.Kinds, diffs, kinds)
	}
	for k, n := range kinds {
		if m.Kinds[k] != n {
			return fmt.Errorf("%s found differences %v, want %v", what, m.Kinds, kinds)
		}
	}
	return nil
}

// profile runs one more verify of the identical tables under the CPU
// profiler.
func profile(ctx context.Context, c *contenders, file string, rows int) (measurement, error) {
	out, err := os.Create(file)
	if err != nil {
		return measurement{}, err
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		return measurement{}, err
	}
	m, err := c.verify(ctx)
	pprof.StopCPUProfile()
	if err == nil {
		err = c.check("profiled verify of the identical tables", m, rows, 0, nil)
	}
	if err != nil {
		return m, err
	}
	return m, out.Close()
}

func last(ms []measurement) measurement { return ms[len(ms)-1] }

func printRound(what string, m measurement) {
	extra := ""
	if m.Chunks > 0 {
		extra = fmt.Sprintf(", %d chunks (%d differing), streamed compare %.0f s + re-check %.0f s", m.Chunks, m.ChunksDiffering, m.StreamSeconds, m.CheckSeconds)
	}
	if m.FetchSeconds > 0 {
		extra = fmt.Sprintf(", fetch %.1f s + compare %.1f s", m.FetchSeconds, m.CompareSeconds)
	}
	diffs := ""
	if what != "(a) read both sides" {
		diffs = fmt.Sprintf(", %d differences", m.Differences)
	}
	fmt.Printf("  %-21s %6.1f s %8.0f rows/s%s; CPU: here %.1f s, SurrealDB %.1f s, PostgreSQL %.1f s%s\n",
		what, m.Seconds, m.PerS, diffs, m.CPUSeconds, m.SurrealCPU, m.PostgresCPU, extra)
}

func (r *result) summarise() {
	med := func(ms []measurement) (secs, perS float64) {
		s, p := make([]float64, len(ms)), make([]float64, len(ms))
		for i, m := range ms {
			s[i], p[i] = m.Seconds, m.PerS
		}
		return harness.Round(harness.Median(s), 2), harness.Round(harness.Median(p), 0)
	}
	r.Verify0Median, r.Verify0PerS = med(r.Verify0)
	r.Verify100Median, r.Verify100PerS = med(r.Verify100)
	r.ReadBothMedian, r.ReadBothPerS = med(r.ReadBoth)
	r.NaiveMedian, r.NaivePerS = med(r.Naive)
	r.RatioOfReadBoth = harness.Round(r.Verify0Median/r.ReadBothMedian, 3)
	r.DiffCost = harness.Round(r.Verify100Median/r.Verify0Median-1, 3)
	r.RatioOfNaive = harness.Round(r.Verify0Median/r.NaiveMedian, 3)
	for i := range r.Verify0 {
		r.RoundReadBoth = append(r.RoundReadBoth, harness.Round(r.Verify0[i].Seconds/r.ReadBoth[i].Seconds, 3))
		r.RoundDiffCost = append(r.RoundDiffCost, harness.Round(r.Verify100[i].Seconds/r.Verify0[i].Seconds-1, 3))
	}
	r.MedReadBoth = harness.Round(harness.Median(r.RoundReadBoth), 3)
	r.MedDiffCost = harness.Round(harness.Median(r.RoundDiffCost), 3)
}

func (r *result) print() {
	fmt.Printf("\nload average %.1f at start, %.1f at end; %d rows, medians of %d rounds\n", r.LoadStart, r.LoadEnd, r.Rows, r.Rounds)
	fmt.Printf("verify(0), identical tables:   %7.2f s %8.0f rows/s\n", r.Verify0Median, r.Verify0PerS)
	fmt.Printf("verify(100), 100 differences:  %7.2f s %8.0f rows/s\n", r.Verify100Median, r.Verify100PerS)
	fmt.Printf("(a) read both sides:           %7.2f s %8.0f rows/s\n", r.ReadBothMedian, r.ReadBothPerS)
	fmt.Printf("(b) naive compare:             %7.2f s %8.0f rows/s\n", r.NaiveMedian, r.NaivePerS)
	fmt.Printf("verify(0)/(a):                 %6.2fx (target <= %.1fx) %s\n", r.RatioOfReadBoth, targetOfReadBoth, verdict(r.RatioOfReadBoth <= targetOfReadBoth))
	fmt.Printf("verify(100)/verify(0) - 1:     %6.1f%% (target < %.0f%%) %s\n", 100*r.DiffCost, 100*targetDiffCost, verdict(r.DiffCost < targetDiffCost))
	fmt.Printf("verify(0)/(b):                 %6.2fx\n", r.RatioOfNaive)
	fmt.Printf("within each round: verify(0)/(a) %v, median %.2fx; verify(100)/verify(0) - 1 %v, median %.1f%%\n",
		r.RoundReadBoth, r.MedReadBoth, r.RoundDiffCost, 100*r.MedDiffCost)
	if len(r.Verify100) > 0 {
		for _, n := range last(r.Verify100).Notes {
			fmt.Printf("note (verify with differences, expected here): %s\n", n)
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

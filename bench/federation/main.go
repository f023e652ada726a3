// Command federation measures pgsurreal's federated SQL against the two
// ways people answer such questions without it. The dataset: customers
// and orders in PostgreSQL, a friendship graph and reviews in SurrealDB
// (sizes set by flags; 10,000 customers, 100,000 orders, 5 friends per
// customer, 30,000 reviews by default). Two queries:
//
//	selective: one customer and their friends' reviews (customer in
//	    PostgreSQL, friends and reviews in SurrealDB), a random customer
//	    per run;
//	report: orders (100k) aggregated per country, joined with reviews
//	    aggregated per customer.
//
// Each runs through the federation engine (in this process, on the same
// pools a daemon would use), and against two baselines measured in the
// same run:
//
//	(a) an application-level merge: both sides fetched whole and joined
//	    in Go (what a service does without pgsurreal);
//	(b) the same SQL on an all-PostgreSQL copy of the data (the lower
//	    bound: no second database at all).
//
// Also the selective query with the Redis cache on, repeated for the same
// customer (cache-hit latency). p50 and p99 latencies are printed with
// the ratios the issue names ((a)/pgsurreal for the selective query,
// pgsurreal/(b) for both) and saved to bench/results/federation-<date>.json.
// Run it with
//
//	make bench-federation        (or: go run ./bench/federation)
//
// It uses the shared test stack (started if needed, then stopped again),
// a private one with -private-stack, or the servers named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

type flags struct {
	customers, orders, friends, reviews int
	selectiveRuns, reportRuns           int
	redis                               string
	private, keepStack                  bool
	note                                string
}

func main() {
	var f flags
	flag.IntVar(&f.customers, "customers", 10000, "customers (PostgreSQL)")
	flag.IntVar(&f.orders, "orders", 100000, "orders (PostgreSQL)")
	flag.IntVar(&f.friends, "friends", 5, "friends per customer (SurrealDB edges)")
	flag.IntVar(&f.reviews, "reviews", 30000, "reviews (SurrealDB)")
	flag.IntVar(&f.selectiveRuns, "selective-runs", 200, "runs of the selective query per contender")
	flag.IntVar(&f.reportRuns, "report-runs", 15, "runs of the report query per contender")
	flag.StringVar(&f.redis, "redis", "redis://127.0.0.1:6379/0", "Redis for the cache-hit measurement (empty: skip it)")
	flag.BoolVar(&f.private, "private-stack", false, "use a private benchmark stack instead of the shared test stack")
	flag.BoolVar(&f.keepStack, "keep-stack", false, "leave a stack this run started running")
	flag.StringVar(&f.note, "note", "", "a note saved with the results")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "bench/federation:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	srv, err := harness.Start(ctx, f.private)
	if err != nil {
		return err
	}
	defer srv.Close(f.keepStack)
	name := harness.Name("benchfed")
	fedPG, dropFed, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	defer dropFed()
	copyPG, dropCopy, err := srv.NewDatabase(ctx, name+"_copy")
	if err != nil {
		return err
	}
	defer dropCopy()
	sur, removeNS := srv.Namespace(name, "bench")
	defer removeNS()

	fmt.Printf("servers: %s\nloading %d customers, %d orders, %d friendships, %d reviews ...\n",
		srv.Where, f.customers, f.orders, f.customers*f.friends, f.reviews)
	d := newDataset(f)
	began := time.Now()
	if err := d.load(ctx, fedPG, copyPG, sur); err != nil {
		return err
	}
	fmt.Printf("loaded in %s\n", time.Since(began).Round(time.Second))

	fedPool, err := postgres.Connect(ctx, fedPG)
	if err != nil {
		return err
	}
	defer fedPool.Close()
	copyPool, err := postgres.Connect(ctx, copyPG)
	if err != nil {
		return err
	}
	defer copyPool.Close()
	log := slog.New(slog.DiscardHandler)
	spool, err := surreal.NewPool(ctx, sur, log)
	if err != nil {
		return err
	}
	defer spool.Close(context.WithoutCancel(ctx))
	fc := config.Default().Federation
	engine, err := federation.New(ctx, federation.Options{PG: fedPool, Surreal: spool, Config: fc, Log: log})
	if err != nil {
		return err
	}
	defer engine.Close()

	c := &contenders{d: d, engine: engine, fed: fedPool, copy: copyPool, surreal: spool}
	var cachedRuns *contenders
	if err := c.check(ctx); err != nil {
		return err
	}
	if os.Getenv("BENCH_EXPLAIN") != "" {
		for _, q := range []string{selectiveSQL, reportSQL} {
			args := []any{int64(17)}
			if q == reportSQL {
				args = nil
			}
			r, err := engine.Query(ctx, nil, "EXPLAIN FEDERATED "+q, args, federation.QueryOptions{})
			if err != nil {
				return err
			}
			for _, l := range r.Explain {
				fmt.Println(l)
			}
		}
	}
	res := result{Date: time.Now().UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where, Note: f.note,
		Dataset:     sizes{Customers: f.customers, Orders: f.orders, Friendships: f.customers * f.friends, Reviews: f.reviews},
		LoadAverage: harness.LoadAverage()}

	fmt.Println("\nselective query (one customer, their friends' reviews):")
	res.Selective.Pgsurreal = c.measure(ctx, "pgsurreal", f.selectiveRuns, c.selectiveFederated)
	res.Selective.AppMerge = c.measure(ctx, "(a) app merge", max(5, f.selectiveRuns/20), c.selectiveAppMerge)
	res.Selective.AllPostgres = c.measure(ctx, "(b) all-PostgreSQL", f.selectiveRuns, c.selectiveCopy)
	if f.redis != "" {
		fcc := fc
		fcc.Cache.Redis = f.redis
		fcc.Cache.Prefix = "pgsurreal-bench:" + name + ":"
		cached, err := federation.New(ctx, federation.Options{PG: fedPool, Surreal: spool, Config: fcc, Log: log})
		if err != nil {
			return err
		}
		defer cached.Close()
		iv, err := federation.NewInvalidator(ctx, fcc.Cache, log)
		if err != nil {
			return err
		}
		// The tables are "watched" once a change stream has applied a
		// change to them; no stream runs here, so mark them as a stream
		// would.
		iv.Changed(ctx, []string{"friend", "review"})
		_ = iv.Close()
		cc := *c
		cc.engine = cached
		hit := cc.measure(ctx, "pgsurreal, cache hit", f.selectiveRuns, cc.selectiveSameCustomer)
		res.Selective.CacheHit = &hit
		cachedRuns = &cc
	}
	floor := c.measure(ctx, "SurrealDB round trip", f.selectiveRuns, c.surrealRoundTrip)
	res.SurrealRoundTrip = &floor
	fmt.Println("\nreport query (100k orders by country, reviews aggregated per customer):")
	res.Report.Pgsurreal = c.measure(ctx, "pgsurreal", f.reportRuns, c.reportFederated)
	res.Report.AppMerge = c.measure(ctx, "(a) app merge", max(3, f.reportRuns/3), c.reportAppMerge)
	res.Report.AllPostgres = c.measure(ctx, "(b) all-PostgreSQL", f.reportRuns, c.reportCopy)
	if cachedRuns != nil {
		hit := cachedRuns.measure(ctx, "pgsurreal, cache hit", f.reportRuns, cachedRuns.reportFederated)
		res.Report.CacheHit = &hit
	}

	res.ratios()
	res.print()
	path, err := harness.Save("federation", time.Now(), res)
	if err != nil {
		return err
	}
	fmt.Println("\nsaved", path)
	return nil
}

// Command tx measures distributed transactions: transfers that update one
// PostgreSQL row and one SurrealDB record, committed atomically by
// pgsurreal (txn.RunTx: PREPARE TRANSACTION, SurrealDB commit with the
// decision record, COMMIT PREPARED), against the non-atomic baseline
// measured in the same run (commit PostgreSQL, then SurrealDB, no
// protocol), at concurrency 1, 8 and 32. Throughput and p50/p99 latency
// are printed with pgsurreal's throughput as a share of the baseline's
// (target >= 60% at concurrency 8) and saved to
// bench/results/tx-<date>.json. Run it with
//
//	make bench-tx        (or: go run ./bench/tx)
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
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

const accounts = 1000

type level struct {
	Concurrency int     `json:"concurrency"`
	Pgsurreal   figures `json:"pgsurreal"`
	Baseline    figures `json:"non_atomic_baseline"`
	Share       float64 `json:"throughput_share"`
}

type figures struct {
	Transactions int     `json:"transactions"`
	PerSecond    float64 `json:"per_second"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	Errors       int     `json:"errors"`
}

type result struct {
	Date     string       `json:"date"`
	Host     harness.Host `json:"host"`
	Servers  string       `json:"servers"`
	Duration string       `json:"duration_per_measurement"`
	Levels   []level      `json:"levels"`
}

func main() {
	dur := flag.Duration("duration", 5*time.Second, "how long each measurement runs")
	private := flag.Bool("private-stack", false, "use a private benchmark stack")
	keep := flag.Bool("keep-stack", false, "leave a stack this run started running")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dur, *private, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tx:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dur time.Duration, private, keep bool) error {
	srv, err := harness.Start(ctx, private)
	if err != nil {
		return err
	}
	defer srv.Close(keep)
	name := harness.Name("benchtx")
	pgcfg, drop, err := srv.NewDatabase(ctx, name)
	if err != nil {
		return err
	}
	defer drop()
	scfg, remove := srv.Namespace(name, "bench")
	defer remove()
	pgcfg.MaxConns, scfg.PoolSize = 80, 8
	pool, err := postgres.Connect(ctx, pgcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	sp, err := surreal.NewPool(ctx, scfg, nil)
	if err != nil {
		return err
	}
	defer sp.Close(context.WithoutCancel(ctx))
	if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL); INSERT INTO acct SELECT g, 1000000 FROM generate_series(1, %d) g", accounts)); err != nil {
		return err
	}
	if _, err := surrealdb.Query[any](ctx, sp.Get().DB, fmt.Sprintf("DEFINE TABLE acct SCHEMAFULL; DEFINE FIELD bal ON acct TYPE int; FOR $i IN 1..=%d { CREATE type::record('acct', $i) SET bal = 1000000 };", accounts), nil); err != nil {
		return err
	}
	c, err := txn.Start(ctx, txn.Options{PG: pool, Surreal: sp, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))

	atomic := func(ctx context.Context, r *rand.Rand) error {
		id, amount := 1+r.IntN(accounts), 1+r.IntN(100)
		return c.RunTx(ctx, txn.TxOptions{}, func(ctx context.Context, tx *txn.Tx) error {
			if _, err := tx.PG().Exec(ctx, "UPDATE acct SET bal = bal - $1 WHERE id = $2", amount, id); err != nil {
				return err
			}
			return tx.Surreal().Exec("UPDATE type::record('acct', $id) SET bal += $amount RETURN NONE", map[string]any{"id": id, "amount": amount})
		})
	}
	plain := func(ctx context.Context, r *rand.Rand) error {
		id, amount := 1+r.IntN(accounts), 1+r.IntN(100)
		if _, err := pool.Exec(ctx, "UPDATE acct SET bal = bal - $1 WHERE id = $2", amount, id); err != nil {
			return err
		}
		_, err := surrealdb.Query[any](ctx, sp.Get().DB, "UPDATE type::record('acct', $id) SET bal += $amount RETURN NONE", map[string]any{"id": id, "amount": amount})
		return err
	}
	res := result{Date: time.Now().UTC().Format(time.RFC3339), Host: harness.ThisHost(), Servers: srv.Where, Duration: dur.String()}
	fmt.Printf("servers: %s; %d accounts on each side; %s per measurement\n", srv.Where, accounts, dur)
	for _, n := range []int{1, 8, 32} {
		l := level{Concurrency: n}
		l.Baseline = measure(ctx, n, dur, plain)
		l.Pgsurreal = measure(ctx, n, dur, atomic)
		if l.Baseline.PerSecond > 0 {
			l.Share = harness.Round(l.Pgsurreal.PerSecond/l.Baseline.PerSecond, 3)
		}
		fmt.Printf("concurrency %2d: pgsurreal %7.0f tx/s (p50 %6.2f ms, p99 %6.2f ms, %d errors) | non-atomic %7.0f tx/s (p50 %6.2f ms, p99 %6.2f ms) | %.1f%%\n",
			n, l.Pgsurreal.PerSecond, l.Pgsurreal.P50ms, l.Pgsurreal.P99ms, l.Pgsurreal.Errors, l.Baseline.PerSecond, l.Baseline.P50ms, l.Baseline.P99ms, l.Share*100)
		res.Levels = append(res.Levels, l)
	}
	for _, l := range res.Levels {
		if l.Concurrency == 8 {
			verdict := "met"
			if l.Share < 0.6 {
				verdict = "NOT met"
			}
			fmt.Printf("\nat concurrency 8 pgsurreal keeps %.1f%% of the non-atomic baseline's throughput (target >= 60%%: %s)\n", l.Share*100, verdict)
		}
	}
	path, err := harness.Save("tx", time.Now(), res)
	if err != nil {
		return err
	}
	fmt.Println("saved", path)
	return nil
}

// measure runs n workers doing fn for dur.
func measure(ctx context.Context, n int, dur time.Duration, fn func(context.Context, *rand.Rand) error) figures {
	var mu sync.Mutex
	var lat []float64
	errs := 0
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(n)))
			for time.Now().Before(deadline) {
				t := time.Now()
				err := fn(ctx, r)
				ms := float64(time.Since(t).Microseconds()) / 1000
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, ms)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return figures{Transactions: len(lat), PerSecond: harness.Round(float64(len(lat))/dur.Seconds(), 1),
		P50ms: harness.Round(harness.Median(lat), 3), P99ms: harness.Round(harness.Percentile(lat, 99), 3), Errors: errs}
}

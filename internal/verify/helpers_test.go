package verify_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// fixture is a PostgreSQL database and a SurrealDB namespace of the
// test's own, replicated both ways by in-process pipelines.
type fixture struct {
	t    *testing.T
	cfg  config.Config
	pool *pgxpool.Pool
	cl   *surreal.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{t: t, cfg: config.Default()}
	f.cfg.Postgres, f.pool = env.NewPostgresPool(t)
	f.cfg.Surreal, f.cl = env.NewSurrealClient(t)
	name := strings.ToLower(testenv.Name(t))
	f.cfg.Sync.Slot, f.cfg.Sync.Publication = name, name
	f.cfg.Sync.Include = []string{"shop.*"}
	f.cfg.Reverse.PollInterval.Duration = 20 * time.Millisecond
	f.cfg.Verify.ChunkRows = 100
	f.cfg.Verify.WaitTimeout.Duration = 20 * time.Second
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = f.pool.Exec(ctx, `SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, name)
		_, _ = f.pool.Exec(ctx, `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1`, f.cfg.Reverse.OriginFor(f.cfg.Postgres.Database))
	})
	return f
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) surql(q string, vars map[string]any) {
	f.t.Helper()
	if _, err := surrealdb.Query[any](context.Background(), f.cl.DB, q, vars); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// run starts a pipeline in-process; the returned stop ends it and
// fails the test if it had stopped on an error.
func (f *fixture) run(name string, fn func(ctx context.Context) error) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("%s stopped: %v", name, err)
		}
	}
	f.t.Cleanup(stop)
	return stop
}

func (f *fixture) startSync() func() {
	o := pgsync.Options{Postgres: f.cfg.Postgres, Surreal: f.cfg.Surreal, Sync: f.cfg.Sync, Log: testLog(),
		SkipOrigin: f.cfg.Reverse.OriginFor(f.cfg.Postgres.Database)}
	for _, t := range f.cfg.Reverse.Tables {
		if !t.TwoWay {
			o.Sync.Exclude = append(slices.Clone(o.Sync.Exclude), t.TargetName())
		}
	}
	return f.run("sync", func(ctx context.Context) error { return pgsync.Run(ctx, o) })
}

func (f *fixture) startReverse() func() {
	o := reverse.Options{Postgres: f.cfg.Postgres, Surreal: f.cfg.Surreal, Reverse: f.cfg.Reverse, Log: testLog()}
	return f.run("reverse", func(ctx context.Context) error { return reverse.Run(ctx, o) })
}

// verify runs a verify of the fixture's tables.
func (f *fixture) verify(repair bool, tables ...string) *verify.Report {
	f.t.Helper()
	rep, err := verify.Run(context.Background(), verify.Options{Config: f.cfg, Repair: repair, Tables: tables, Log: testLog()})
	if err != nil {
		f.t.Fatalf("verify: %v", err)
	}
	return rep
}

// settled waits until a verify finds no difference: the pipelines have
// copied everything. It fails after timeout.
func (f *fixture) settled(timeout time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// Until the pipelines have created their tables, verify fails.
		rep, err := verify.Run(context.Background(), verify.Options{Config: f.cfg, Log: testLog()})
		if err == nil && rep.Differences() == 0 {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				f.t.Fatalf("verify still failing after %s: %v", timeout, err)
			}
			f.t.Fatalf("still different after %s:\n%s", timeout, text(rep))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// found lists a report's differences as "kind table key [fields]".
func found(rep *verify.Report) []string {
	var out []string
	for _, t := range rep.Tables {
		for _, d := range t.Differences {
			s := d.Kind + " " + d.Table + " " + d.Key
			if len(d.Fields) > 0 {
				s += " " + strings.Join(d.Fields, ",")
			}
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func text(rep *verify.Report) string {
	var b strings.Builder
	rep.WriteText(&b)
	return b.String()
}

func testLog() *slog.Logger {
	if os.Getenv("PGSURREAL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func diffLines(got, want []string) string {
	return fmt.Sprintf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
}

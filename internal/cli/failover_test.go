package cli_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/internal/leader/drill"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// failoverKills is how many times TestFailover kills the leader.
const failoverKills = 5

// maxTakeover is the longest a standby may take to lead after the
// leader's SIGKILL (issue 9).
const maxTakeover = 10 * time.Second

// TestFailover runs two `pgsurreal serve` daemons against the same
// databases under a sustained write load on both (PostgreSQL rows for the
// sync, SurrealDB records for reverse) and kills the leader with SIGKILL
// five times, each time starting a replacement so that two run. Each
// time the other daemon must lead within 10 s, and never while the
// killed one's predecessor lives on as leader; the stored forward
// position never goes back (a deposed leader writing late would move it
// back). After the load stops and replication catches up, verify must
// find PostgreSQL and SurrealDB identical, row counts included.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	env := testenv.Get(t)
	pg, pool := env.NewPostgresPool(t)
	su, cl := env.NewSurrealClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slot := "s_" + strings.TrimPrefix(testenv.Name(t), "t_")
	t.Cleanup(func() { dropSlot(pool, slot) })
	if _, err := pool.Exec(ctx, drill.Schema); err != nil {
		t.Fatal(err)
	}
	if _, err := surrealdb.Query[any](ctx, cl.DB, drill.SurrealSchema, nil); err != nil {
		t.Fatal(err)
	}
	args, procEnv, cfg, err := drill.Setup{Postgres: pg, Surreal: su, Slot: slot}.Prepare(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := drill.New(testenv.Binary(t), args, procEnv)
	defer func() {
		c.Stop(30 * time.Second)
		if t.Failed() {
			for _, d := range c.Daemons() {
				t.Logf("log of %s:\n%s", d.Name, tail(d.Log(), 40))
			}
		}
	}()
	for _, name := range []string{"d1", "d2"} {
		if _, err := c.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	first, err := c.WaitLeader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s leads", first.Name)
	// The first leader copies the seed rows before the load starts.
	waitCount(t, cl, "entry", 2000, time.Minute)

	// The forward position must never go back.
	watch, err := surreal.Connect(ctx, su, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.WithoutCancel(ctx))
	var regressions atomic.Int64
	var lastLSN atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return watchPosition(gctx, watch, slot, &lastLSN, &regressions, t) })
	defer func() { cancel(); _ = g.Wait() }()

	writer, err := surreal.Connect(ctx, su, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(context.WithoutCancel(ctx))
	loadCtx, stopLoad := context.WithCancel(ctx)
	var pgOps, surOps atomic.Int64
	var load errgroup.Group
	for w := range 2 {
		load.Go(func() error { return drill.PostgresLoad(loadCtx, pool, w, 2*time.Millisecond, &pgOps) })
	}
	load.Go(func() error { return drill.SurrealLoad(loadCtx, writer, 40*time.Millisecond, &surOps) })
	defer func() { stopLoad(); _ = load.Wait() }()

	var took []time.Duration
	for i := range failoverKills {
		time.Sleep(time.Duration(2500+500*i%1500) * time.Millisecond) // the leader works under load
		if exited := c.Exited(); len(exited) > 0 {
			t.Fatalf("daemons exited on their own: %v", exited)
		}
		to, err := c.Failover(fmt.Sprintf("d%d", i+3), 30*time.Second)
		if err != nil {
			t.Fatalf("kill %d: %v", i+1, err)
		}
		took = append(took, to.Took)
		t.Logf("kill %d: %s killed, %s took the lock %s later and led %s later; %d PostgreSQL and %d SurrealDB writes so far, position %X",
			i+1, to.From, to.To, to.Acquired.Round(time.Millisecond), to.Took.Round(time.Millisecond), pgOps.Load(), surOps.Load(), lastLSN.Load())
		if to.Took > maxTakeover {
			t.Errorf("kill %d: takeover took %s, more than %s", i+1, to.Took.Round(time.Millisecond), maxTakeover)
		}
	}
	time.Sleep(2 * time.Second) // the last leader works under load too
	stopLoad()
	if err := load.Wait(); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("takeovers: %v; %d PostgreSQL and %d SurrealDB writes", took, pgOps.Load(), surOps.Load())
	for _, v := range c.Violations() {
		t.Errorf("split brain: %s", v)
	}
	if exited := c.Exited(); len(exited) > 0 {
		t.Errorf("daemons exited on their own: %v", exited)
	}

	// Caught up: every row and record on the other side, then identical.
	waitSame(t, pool, cl, 2*time.Minute)
	cancel()
	_ = g.Wait()
	if n := regressions.Load(); n > 0 {
		t.Errorf("the stored forward position went back %d times", n)
	}
	rep, err := verify.Run(context.Background(), verify.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.WriteText(&sb)
	if rep.Differences() != 0 || len(rep.Tables) != 3 {
		t.Fatalf("verify after the failovers:\n%s", sb.String())
	}
	for _, tr := range rep.Tables {
		if tr.SourceRows != tr.ReplicaRows || tr.SourceRows == 0 {
			t.Errorf("%s: %d source rows, %d replica rows", tr.Table, tr.SourceRows, tr.ReplicaRows)
		}
	}
	t.Logf("verify:\n%s", sb.String())
}

// watchPosition polls the sync's stored position every 50 ms and counts
// the times it went back.
func watchPosition(ctx context.Context, cl *surreal.Client, slot string, last, regressions *atomic.Int64, t *testing.T) error {
	for ctx.Err() == nil {
		res, err := surrealdb.Query[[]struct {
			Phase string `json:"phase"`
			LSN   int64  `json:"lsn"`
		}](ctx, cl.DB, "SELECT phase, lsn FROM type::record('_pgsurreal_position', $slot)", map[string]any{"slot": slot})
		if err == nil && len(*res) > 0 && len((*res)[0].Result) > 0 {
			p := (*res)[0].Result[0]
			if p.Phase == "streaming" {
				if prev := last.Load(); p.LSN < prev {
					regressions.Add(1)
					t.Logf("the stored position went back from %X to %X", prev, p.LSN)
				} else {
					last.Store(p.LSN)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// waitCount waits until table holds n records in SurrealDB.
func waitCount(t *testing.T, cl *surreal.Client, table string, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := drill.Count(context.Background(), cl, table)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d records in SurrealDB after %s, want %d (%v)", table, got, within, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSame waits until PostgreSQL and SurrealDB count the same rows in
// each replicated table (forward and reverse).
func waitSame(t *testing.T, pool *pgxpool.Pool, cl *surreal.Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		behind := drill.Behind(context.Background(), pool, cl)
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not caught up after %s: %s", within, strings.Join(behind, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// dropSlot drops a test's replication slot (before its database goes),
// ending the walsender that may still hold it.
func dropSlot(pool *pgxpool.Pool, slot string) {
	ctx := context.Background()
	for range 100 {
		_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", slot)
		if _, err := pool.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", slot); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

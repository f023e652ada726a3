package sync_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// syncProcess starts `pgsurreal sync` for the fixture as a real process.
func (f *fixture) syncProcess() *exec.Cmd { return f.process("sync") }

// process starts the pgsurreal binary running verb (sync or serve)
// against the fixture.
func (f *fixture) process(verb string) *exec.Cmd {
	f.t.Helper()
	cfgFile := filepath.Join(f.t.TempDir(), "pgsurreal.yaml")
	y := "sync:\n  tables:\n"
	for _, tc := range f.sync.Tables {
		y += fmt.Sprintf("    - name: %q\n", tc.Name)
		if len(tc.Edges) > 0 {
			y += "      edges:\n"
			for _, e := range tc.Edges {
				y += fmt.Sprintf("        - {name: %q, columns: [%q]}\n", e.Name, e.Columns[0])
			}
		}
	}
	if len(f.sync.Tables) == 0 {
		y = ""
	}
	if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(f.t), verb, "--log-level", "warn", "--config", cfgFile,
		"--set", "postgres.host="+f.pg.Host,
		"--set", fmt.Sprintf("postgres.port=%d", f.pg.Port),
		"--set", "postgres.user="+f.pg.User,
		"--set", "postgres.database="+f.pg.Database,
		"--set", "postgres.sslmode=disable",
		"--set", "surreal.url="+f.sur.URL,
		"--set", "surreal.namespace="+f.sur.Namespace,
		"--set", "surreal.database="+f.sur.Database,
		"--set", "surreal.username="+f.sur.Username,
		"--set", "sync.slot="+f.sync.Slot,
		"--set", "sync.heartbeat=100ms",
		"--set", "sync.status_interval=100ms",
		"--set", "sync.snapshot_chunk_rows=2000",
		"--set", "http.listen=127.0.0.1:0", "--set", "federation.listen=off",
	)
	cmd.Args = append(cmd.Args, f.args...)
	cmd.Env = append(os.Environ(),
		"PGSURREAL_POSTGRES_PASSWORD="+f.pg.Password.Reveal(),
		"PGSURREAL_SURREAL_PASSWORD="+f.sur.Password.Reveal())
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd
}

// load runs a mixed write workload until ctx ends: single-row inserts,
// updates (including key-changing and edge-moving ones) and deletes, and
// small multi-statement transactions.
func load(ctx context.Context, pool *pgxpool.Pool, ops *atomic.Int64) error {
	r := rand.New(rand.NewPCG(1, 2))
	next := int64(1_000_000)
	for ctx.Err() == nil {
		var sql string
		var args []any
		switch r.IntN(10) {
		case 0, 1, 2:
			next++
			sql, args = `INSERT INTO "order" VALUES ($1, $2, $3)`, []any{next, 1 + r.IntN(300), r.IntN(10000)}
		case 3, 4:
			sql, args = `UPDATE "order" SET total = total + 1, customer_id = $2 WHERE id = $1`, []any{1 + r.Int64N(next), 1 + r.IntN(300)}
		case 5:
			sql, args = `UPDATE customer SET name = name || '+' WHERE id = $1`, []any{1 + r.IntN(300)}
		case 6:
			sql, args = `DELETE FROM "order" WHERE id = $1`, []any{1 + r.Int64N(next)}
		case 7:
			next++
			sql, args = `UPDATE "order" SET id = $2 WHERE id = $1`, []any{1 + r.Int64N(next), next}
		case 8:
			sql = `BEGIN; INSERT INTO tag VALUES (` + fmt.Sprint(100+next) + `, 'x'); UPDATE tag SET label = label || 'y' WHERE id < 3; COMMIT`
			next++
		case 9:
			sql, args = `DELETE FROM line WHERE order_id = $1`, []any{1 + r.IntN(1000)}
		}
		if _, err := pool.Exec(ctx, sql, args...); err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		ops.Add(1)
	}
	return nil
}

// TestCrashAnywhere kills -9 the sync process at random moments, during
// the snapshot and during streaming, under a sustained write load. After
// the load stops and sync catches up, SurrealDB must equal PostgreSQL
// exactly.
func TestCrashAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f := newFixture(t, shopSchema+`
INSERT INTO customer SELECT g, 'bulk ' || g, NULL, NULL FROM generate_series(301, 20000) g;
INSERT INTO "order" SELECT g, 1 + g % 20000, g FROM generate_series(1001, 60000) g;`)
	withEdge(f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ops atomic.Int64
	loadErr := make(chan error, 1)
	go func() { loadErr <- load(ctx, f.pool, &ops) }()

	r := rand.New(rand.NewPCG(7, 11))
	kills := 0
	kill := func(after time.Duration, phase string) {
		cmd := f.syncProcess()
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		t.Logf("kill %d (%s) after %s; %d writes so far; position %s", kills, phase, after.Round(time.Millisecond), ops.Load(), f.position())
	}
	// During the snapshot: it copies 80k rows, which takes seconds.
	for range 3 {
		kill(time.Duration(300+r.IntN(900))*time.Millisecond, "snapshot")
	}
	// Let one run finish the snapshot, then kill it while streaming.
	cmd := f.syncProcess()
	deadline := time.Now().Add(5 * time.Minute)
	for f.position() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the snapshot never finished")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	kills++
	for range 8 {
		kill(time.Duration(200+r.IntN(1800))*time.Millisecond, "streaming")
	}
	cancel()
	if err := <-loadErr; err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("%d kills, %d writes", kills, ops.Load())

	cmd = f.syncProcess()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	f.caughtUp(2 * time.Minute)
	f.assertSame()
}

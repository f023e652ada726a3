package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/backup"
	"github.com/pgsurreal/pgsurreal/internal/backup/backuptest"
	"github.com/pgsurreal/pgsurreal/internal/cli"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	backuptest.Stop()
	os.Exit(code)
}

func TestBackupRestoreUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"backup", "--set", "backup.dir="}, []string{"--to", "backup.dir"}},
		{[]string{"backup", "--to", t.TempDir(), "--max-age", "30"}, []string{"--max-age", "duration"}},
		{[]string{"backup", "--to", t.TempDir(), "--keep", "-1"}, []string{"--keep"}},
		{[]string{"restore"}, []string{"--from"}},
	}
	for _, c := range cases {
		code, _, errOut := run(t, c.args...)
		if code != cli.ExitUsage {
			t.Errorf("%v: exit code %d, want %d (stderr %q)", c.args, code, cli.ExitUsage, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args, errOut, w)
			}
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: the error is not one line: %q", c.args, errOut)
		}
	}
	// A runtime failure: nothing to restore.
	code, _, errOut := run(t, "restore", "--from", filepath.Join(t.TempDir(), "none"))
	if code != cli.ExitFailure || !strings.HasPrefix(errOut, "pgsurreal: ") || !strings.Contains(errOut, "none") {
		t.Fatalf("restore from a missing directory: exit %d, stderr %q", code, errOut)
	}
}

// TestBackupRestoreCommands backs up a replicated pair twice through the
// command line (retention keeping one), restores the newest into a new
// pair, and checks the restored data and the sync's prepared slot.
func TestBackupRestoreCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := backuptest.Env(t)
	pg, pool := e.NewPostgresPool(t)
	sur := e.NewSurreal(t)
	slot := cliSlot(t, pool, "src")
	if _, err := pool.Exec(ctx, `CREATE TABLE customer (id int PRIMARY KEY, name text); INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 25) g`); err != nil {
		t.Fatal(err)
	}
	// Replicate once, then stop the sync: the backups wait for it in vain
	// (verify.wait_timeout) and say so.
	sc := config.Default().Sync
	sc.Slot = slot
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pgsync.Run(sctx, pgsync.Options{Postgres: pg, Surreal: sur, Sync: sc}) }()
	waitStreaming(t, sur, slot)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	flags := append(connFlags(pg, sur), "--set", "sync.slot="+slot, "--set", "verify.wait_timeout=300ms")
	code, out, errOut := run(t, append([]string{"backup", "--to", dir}, flags...)...)
	if code != cli.ExitOK || !strings.Contains(out, "NOT caught up") || !strings.Contains(out, "1 tables, 25 rows") ||
		!strings.Contains(out, "surreal "+sur.Namespace+"/"+sur.Database+" on server default ("+sur.URL+")") {
		t.Fatalf("backup: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, errOut = run(t, append([]string{"backup", "--to", dir, "--keep", "1", "--json"}, flags...)...)
	if code != cli.ExitOK {
		t.Fatalf("second backup: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var res backup.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("backup --json printed %q: %v", out, err)
	}
	if len(res.Removed) != 1 || res.Manifest == nil || res.Manifest.Sync == nil || res.Manifest.Sync.CaughtUp || res.Manifest.Postgres.Tables[0].Rows != 25 {
		t.Fatalf("second backup's result: removed %v, manifest %+v", res.Removed, res.Manifest)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || filepath.Join(dir, entries[0].Name()) != res.Dir {
		t.Fatalf("after --keep 1 the directory holds %v, want only %s", entries, res.Dir)
	}

	dpg, dpool := e.NewPostgresPool(t)
	dsur := e.NewSurreal(t)
	dslot := cliSlot(t, dpool, "dst")
	code, out, errOut = run(t, append([]string{"restore", "--from", dir}, append(connFlags(dpg, dsur), "--set", "sync.slot="+dslot)...)...)
	if code != cli.ExitOK || !strings.Contains(out, "created replication slot "+dslot) || !strings.Contains(out, "verify --repair") ||
		!strings.Contains(out, "surreal "+dsur.Namespace+"/"+dsur.Database+" on server default (backed up from "+sur.Namespace+"/"+sur.Database+" at "+sur.URL+")") {
		t.Fatalf("restore: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var n int
	if err := dpool.QueryRow(ctx, "SELECT count(*) FROM customer").Scan(&n); err != nil || n != 25 {
		t.Fatalf("restored customer: %d rows, %v", n, err)
	}
	waitRecords(t, dsur, 25)
	// A second restore into the same targets is refused.
	code, _, errOut = run(t, append([]string{"restore", "--from", dir}, append(connFlags(dpg, dsur), "--set", "sync.slot="+dslot+"_x")...)...)
	if code != cli.ExitFailure || !strings.Contains(errOut, "not empty") || !strings.Contains(errOut, "public.customer") {
		t.Fatalf("restore into the restored database: exit %d, stderr %q", code, errOut)
	}
}

// cliSlot is a slot name for the test, dropped when it ends (before its
// database).
func cliSlot(t *testing.T, pool *pgxpool.Pool, suffix string) string {
	name := strings.TrimPrefix(testenv.Name(t), "t_") + "_" + suffix
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for range 100 {
			_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", name)
			if _, err := pool.Exec(ctx, "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", name); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return name
}

// waitStreaming waits until the sync has finished its first copy.
func waitStreaming(t *testing.T, sur config.Surreal, slot string) {
	t.Helper()
	ctx := context.Background()
	cl, err := surreal.Connect(ctx, sur, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := surrealdb.Query[[]string](ctx, cl.DB, "SELECT VALUE phase FROM type::record('_pgsurreal_position', $slot)", map[string]any{"slot": slot})
		if err == nil && len((*res)[0].Result) == 1 && (*res)[0].Result[0] == pgsync.PhaseStreaming {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not finish its first copy (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecords waits until SurrealDB's customer table holds n records.
func waitRecords(t *testing.T, sur config.Surreal, n int) {
	t.Helper()
	ctx := context.Background()
	cl, err := surreal.Connect(ctx, sur, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT count() AS n FROM customer GROUP ALL", nil)
		if err == nil && len((*res)[0].Result) == 1 && fmt.Sprint((*res)[0].Result[0]["n"]) == strconv.Itoa(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SurrealDB customer did not reach %d records (%v)", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

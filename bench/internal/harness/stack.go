// Package harness holds what the Go benchmarks under bench/ share: the
// servers they run against (the shared test stack, or servers named by
// the same environment variables the tests honour), a fresh PostgreSQL
// database and SurrealDB namespace per run, the raw-ingest and per-row
// baselines, and the JSON result files.
package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// Servers are the two databases a benchmark runs against, reached with
// superuser credentials.
type Servers struct {
	// PG reaches the cluster as a superuser, database "postgres".
	PG config.Postgres
	// Surreal reaches the server as root, no namespace chosen.
	Surreal config.Surreal
	// Where says which servers these are, for the result file.
	Where string
	// stop stops the test stack when this process started it.
	stop func()
	// private is the private stack's options, nil for shared servers.
	private *devstack.Options
}

// Restart restarts the private stack's servers (their data is kept) and
// reports whether it did: a fresh SurrealDB dev server process is
// measurably faster than one that has already taken a few million
// writes, so each measurement of a comparison starts with one. Shared
// servers are left alone: they are not ours to restart.
func (s *Servers) Restart(ctx context.Context) (bool, error) {
	if s.private == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := devstack.Down(ctx, *s.private); err != nil {
		return false, err
	}
	if _, err := devstack.Up(ctx, *s.private); err != nil {
		return false, fmt.Errorf("restarting the stack in %s: %w", s.private.Dir, err)
	}
	return true, nil
}

// Close stops the stack if Start started it, unless keep is set:
// a benchmark leaves running what it found running, and nothing else.
func (s *Servers) Close(keep bool) {
	if s.stop != nil && !keep {
		s.stop()
	}
}

// Ports of the private benchmark stack (see Start).
const (
	privatePGPort      = 54349
	privateSurrealPort = 18349
)

// Start returns the servers: those named by PGSURREAL_TEST_PG_URL and
// PGSURREAL_TEST_SURREAL_URL when both are set, otherwise the shared test
// stack (PostgreSQL on 54339, SurrealDB on 18339), or with private a
// stack of the benchmarks' own under .pgsurreal/bench (54349, 18349) that
// no `make test` stops halfway and no test loads. Either is started if it
// is not running, and then Close stops it again.
func Start(ctx context.Context, private bool) (*Servers, error) {
	pgURL, surURL := os.Getenv("PGSURREAL_TEST_PG_URL"), os.Getenv("PGSURREAL_TEST_SURREAL_URL")
	if pgURL != "" && surURL != "" {
		return fromURLs(pgURL, surURL)
	}
	o := testenv.StackOptions()
	where := "shared test stack (" + o.Dir + ")"
	if private {
		o.Dir = filepath.Join(filepath.Dir(o.Dir), "bench")
		o.PG.Port, o.SurrealPort = privatePGPort, privateSurrealPort
		where = "private benchmark stack (" + o.Dir + ")"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	before, err := devstack.Stat(ctx, o)
	if err != nil {
		return nil, err
	}
	if _, err := devstack.Up(ctx, o); err != nil {
		return nil, fmt.Errorf("starting the stack in %s: %w", o.Dir, err)
	}
	s := config.Default().Surreal
	s.URL = fmt.Sprintf("ws://127.0.0.1:%d/rpc", o.SurrealPort)
	s.Username, s.Password = o.SurrealUser, config.Secret(o.SurrealPass)
	srv := &Servers{PG: devstack.AdminConfig(o), Surreal: s, Where: where}
	if private {
		srv.private = &o
	}
	if !before.Postgres.Running || !before.Surreal.Running {
		srv.stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := devstack.Down(ctx, o); err != nil {
				fmt.Fprintf(os.Stderr, "stopping the stack in %s: %v\n", o.Dir, err)
			}
		}
	}
	return srv, nil
}

func fromURLs(pgURL, surURL string) (*Servers, error) {
	env, err := testenv.FromURLs(pgURL, surURL)
	if err != nil {
		return nil, err
	}
	return &Servers{PG: env.PG, Surreal: env.Surreal, Where: "servers named by PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL"}, nil
}

// Name returns prefix_<8 hex digits>, a name no other run uses.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// NewDatabase creates a PostgreSQL database and returns its config and a
// function that drops it (after dropping any replication slot in it).
func (s *Servers) NewDatabase(ctx context.Context, name string) (config.Postgres, func(), error) {
	admin, err := postgres.ConnectOne(ctx, s.PG, nil)
	if err != nil {
		return config.Postgres{}, nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+postgres.Ident(name)); err != nil {
		return config.Postgres{}, nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	cfg := s.PG
	cfg.Database = name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := postgres.ConnectOne(ctx, s.PG, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dropping database %s: %v\n", name, err)
			return
		}
		defer c.Close(ctx)
		dropSlots(ctx, c, name)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+postgres.Ident(name)+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "dropping database %s: %v\n", name, err)
		}
	}
	return cfg, drop, nil
}

// dropSlots drops the replication slots of database db, ending the
// walsenders that hold them first (a slot blocks DROP DATABASE).
func dropSlots(ctx context.Context, c *pgx.Conn, db string) {
	for range 100 {
		_, _ = c.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL", db)
		_, err := c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1", db)
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Namespace returns the SurrealDB config for database db of namespace ns
// and a function that removes the namespace.
func (s *Servers) Namespace(ns, db string) (config.Surreal, func()) {
	cfg := s.Surreal
	cfg.Namespace, cfg.Database = ns, db
	remove := func() {
		if err := s.removeNamespace(ns); err != nil {
			fmt.Fprintf(os.Stderr, "removing namespace %s: %v\n", ns, err)
		}
	}
	return cfg, remove
}

// removeNamespace removes ns table by table: a SurrealKV transaction
// holds a bounded number of writes, and REMOVE NAMESPACE over a few
// million records fails with "Memtable arena is full". A table that is
// too large to remove at once is emptied in chunks first.
func (s *Servers) removeNamespace(ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := s.Surreal
	cfg.Namespace, cfg.Database = ns, "cleanup"
	cfg.Timeout.Duration = 5 * time.Minute
	c, err := surreal.Connect(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	dbs, err := infoKeys(ctx, c.DB, "INFO FOR NS", "databases")
	if err != nil {
		return err
	}
	for _, db := range dbs {
		if err := c.DB.Use(ctx, ns, db); err != nil {
			return err
		}
		tables, err := infoKeys(ctx, c.DB, "INFO FOR DB", "tables")
		if err != nil {
			return err
		}
		for _, t := range tables {
			if err := removeTable(ctx, c.DB, t); err != nil {
				return fmt.Errorf("database %s: %w", db, err)
			}
		}
	}
	_, err = surrealdb.Query[any](ctx, c.DB, "REMOVE NAMESPACE IF EXISTS "+surreal.Ident(ns), nil)
	return err
}

// RemoveTable removes table from cfg's database (in chunks when it is
// too large for one transaction).
func RemoveTable(ctx context.Context, cfg config.Surreal, table string) error {
	cfg.Timeout.Duration = 5 * time.Minute
	c, err := surreal.Connect(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return removeTable(ctx, c.DB, table)
}

func removeTable(ctx context.Context, db *surrealdb.DB, table string) error {
	remove := "REMOVE TABLE IF EXISTS " + surreal.Ident(table)
	if _, err := surrealdb.Query[any](ctx, db, remove, nil); err == nil {
		return nil
	}
	for {
		n, err := Count(ctx, db, table)
		if err != nil || n == 0 {
			break
		}
		if _, err := surrealdb.Query[any](ctx, db, "DELETE (SELECT VALUE id FROM type::table($t) LIMIT 50000) RETURN NONE", map[string]any{"t": table}); err != nil {
			return fmt.Errorf("emptying table %s: %w", table, err)
		}
	}
	if _, err := surrealdb.Query[any](ctx, db, remove, nil); err != nil {
		return fmt.Errorf("removing table %s: %w", table, err)
	}
	return nil
}

// infoKeys returns the names under key of an INFO statement's answer.
func infoKeys(ctx context.Context, db *surrealdb.DB, info, key string) ([]string, error) {
	res, err := surrealdb.Query[map[string]any](ctx, db, info, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info, err)
	}
	var out []string
	if len(*res) > 0 {
		if m, ok := (*res)[0].Result[key].(map[string]any); ok {
			for k := range m {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// Connect opens a plain SDK connection signed in as cfg's user and using
// its namespace and database.
func Connect(ctx context.Context, cfg config.Surreal) (*surrealdb.DB, error) {
	db, err := surrealdb.FromEndpointURLString(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", cfg.URL, err)
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: cfg.Username, Password: cfg.Password.Reveal()}); err != nil {
		_ = db.Close(ctx)
		return nil, fmt.Errorf("signing in to %s: %w", cfg.URL, err)
	}
	if err := db.Use(ctx, cfg.Namespace, cfg.Database); err != nil {
		_ = db.Close(ctx)
		return nil, fmt.Errorf("using %s/%s: %w", cfg.Namespace, cfg.Database, err)
	}
	return db, nil
}

// Count returns the number of records in table, 0 if it does not exist.
func Count(ctx context.Context, db *surrealdb.DB, table string) (int64, error) {
	res, err := surrealdb.Query[[]map[string]any](ctx, db, "SELECT count() AS n FROM "+surreal.Ident(table)+" GROUP ALL", nil)
	if err != nil {
		return 0, fmt.Errorf("counting %s: %w", table, err)
	}
	if len(*res) == 0 || len((*res)[0].Result) == 0 {
		return 0, nil
	}
	return toInt64((*res)[0].Result[0]["n"])
}

func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case uint64:
		return int64(n), nil
	case int:
		return int64(n), nil
	case float64:
		return int64(n), nil
	}
	return 0, fmt.Errorf("unexpected count %v (%T)", v, v)
}

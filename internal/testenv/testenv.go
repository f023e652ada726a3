// Package testenv gives integration tests a real PostgreSQL and a real
// SurrealDB. The servers are started once (the shared test stack under
// <repo>/.pgsurreal/test, which `make test` starts and stops) or named by
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL; each test then
// gets its own PostgreSQL database and SurrealDB namespace, dropped when
// the test ends (kept when PGSURREAL_TEST_KEEP=1).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Ports of the shared test stack, apart from the dev stack's defaults so
// tests never touch a developer's data.
const (
	TestPGPort      = 54339
	TestSurrealPort = 18339
)

// Env describes the running servers with superuser credentials.
type Env struct {
	// PG reaches the cluster as a superuser, database "postgres".
	PG config.Postgres
	// Surreal reaches the server as root, with no namespace chosen.
	Surreal config.Surreal
	// Stack is set when testenv manages the servers (not env-named ones).
	Stack *devstack.Options
}

var (
	once    sync.Once
	shared  *Env
	initErr error
)

// Get returns the shared environment, starting the test stack on first use.
func Get(t testing.TB) *Env {
	t.Helper()
	once.Do(func() { shared, initErr = start() })
	if initErr != nil {
		t.Fatalf("testenv: %v", initErr)
	}
	return shared
}

func start() (*Env, error) {
	pgURL, surURL := os.Getenv("PGSURREAL_TEST_PG_URL"), os.Getenv("PGSURREAL_TEST_SURREAL_URL")
	if pgURL != "" && surURL != "" {
		return FromURLs(pgURL, surURL)
	}
	o := StackOptions()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := devstack.Up(ctx, o); err != nil {
		return nil, fmt.Errorf("starting the test stack in %s: %w", o.Dir, err)
	}
	return &Env{PG: devstack.AdminConfig(o), Surreal: surrealConfig(fmt.Sprintf("ws://127.0.0.1:%d/rpc", o.SurrealPort), "root", "root"), Stack: &o}, nil
}

// StackOptions describes the shared test stack (used by `make test` through
// the CLI with the same values, see testdata/test-stack.yaml).
func StackOptions() devstack.Options {
	cfg := config.Default()
	cfg.Postgres.Port = TestPGPort
	return devstack.Options{
		Dir:         filepath.Join(RepoRoot(), ".pgsurreal", "test"),
		PG:          cfg.Postgres,
		SurrealPort: TestSurrealPort,
		// surrealkv, not mem: the mem engine slows to a crawl (and grows
		// to gigabytes) inside large interactive transactions.
		SurrealStorage: "surrealkv",
		SurrealUser:    "root",
		SurrealPass:    "root",
		NodeBin:        "node",
		Log:            slog.New(slog.DiscardHandler),
	}
}

// FromURLs describes servers named by a PostgreSQL superuser URL and a
// SurrealDB RPC URL (root/root unless the URL carries credentials), as
// PGSURREAL_TEST_PG_URL and PGSURREAL_TEST_SURREAL_URL do.
func FromURLs(pgURL, surURL string) (*Env, error) {
	cc, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return nil, fmt.Errorf("PGSURREAL_TEST_PG_URL: %w", err)
	}
	pg := config.Default().Postgres
	pg.Host, pg.Port, pg.User, pg.Database = cc.Host, int(cc.Port), cc.User, cc.Database
	pg.Password = config.Secret(cc.Password)
	pg.SSLMode = "disable"
	u, err := url.Parse(surURL)
	if err != nil {
		return nil, fmt.Errorf("PGSURREAL_TEST_SURREAL_URL: %w", err)
	}
	user, pass := "root", "root"
	if u.User != nil {
		user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			pass = p
		}
		u.User = nil
	}
	return &Env{PG: pg, Surreal: surrealConfig(u.String(), user, pass)}, nil
}

func surrealConfig(rawURL, user, pass string) config.Surreal {
	s := config.Default().Surreal
	s.URL, s.Username, s.Password = rawURL, user, config.Secret(pass)
	return s
}

// RepoRoot finds the module root (the directory holding go.mod).
func RepoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// Name returns a unique lowercase name derived from the test's name.
func Name(t testing.TB) string {
	base := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t_" + base + "_" + hex.EncodeToString(b)
}

func keep() bool { return os.Getenv("PGSURREAL_TEST_KEEP") == "1" }

// NewPostgresDB creates a database for this test and returns its config.
func (e *Env) NewPostgresDB(t testing.TB) config.Postgres {
	t.Helper()
	ctx := context.Background()
	name := Name(t)
	admin, err := postgres.ConnectOne(ctx, e.PG, nil)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+postgres.Ident(name)); err != nil {
		t.Fatalf("testenv: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if keep() {
			t.Logf("testenv: kept PostgreSQL database %s", name)
			return
		}
		c, err := postgres.ConnectOne(ctx, e.PG, nil)
		if err != nil {
			t.Errorf("testenv: dropping %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+postgres.Ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: dropping %s: %v", name, err)
		}
		// Replication origins are cluster-wide and each takes one of
		// max_replication_slots' state slots: drop the ones named after
		// this database (reverse.origin + "_" + database), now that no
		// session of the database can hold them.
		if _, err := c.Exec(ctx, `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE right(roname, length($1) + 1) = '_' || $1`, name); err != nil {
			t.Logf("testenv: dropping the replication origins of %s: %v", name, err)
		}
	})
	cfg := e.PG
	cfg.Database = name
	return cfg
}

// NewPostgresPool creates a database for this test and a pool on it.
func (e *Env) NewPostgresPool(t testing.TB) (config.Postgres, *pgxpool.Pool) {
	t.Helper()
	cfg := e.NewPostgresDB(t)
	pool, err := postgres.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pool.Close)
	return cfg, pool
}

// NewSurreal chooses a fresh namespace for this test and returns its
// config; the namespace is removed when the test ends.
func (e *Env) NewSurreal(t testing.TB) config.Surreal {
	t.Helper()
	cfg := e.Surreal
	cfg.Namespace = Name(t)
	cfg.Database = "test"
	t.Cleanup(func() {
		if keep() {
			t.Logf("testenv: kept SurrealDB namespace %s", cfg.Namespace)
			return
		}
		ctx := context.Background()
		c, err := surreal.Connect(ctx, e.Surreal, nil)
		if err != nil {
			t.Errorf("testenv: removing namespace %s: %v", cfg.Namespace, err)
			return
		}
		defer c.Close(ctx)
		if _, err := surrealQuery(ctx, c, "REMOVE NAMESPACE IF EXISTS "+surreal.Ident(cfg.Namespace)); err != nil {
			t.Errorf("testenv: removing namespace %s: %v", cfg.Namespace, err)
		}
	})
	return cfg
}

// NewSurrealClient is NewSurreal plus a signed-in client using it.
func (e *Env) NewSurrealClient(t testing.TB) (config.Surreal, *surreal.Client) {
	t.Helper()
	cfg := e.NewSurreal(t)
	ctx := context.Background()
	c, err := surreal.Connect(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return cfg, c
}

// PrivateCluster starts a PostgreSQL cluster of the test's own (on a free
// port, dev-cluster settings: logical replication, prepared transactions),
// for tests that stop or restart PostgreSQL without disturbing the
// others. It is removed when the test ends. The returned config reaches
// its pgsurreal database; the options restart it (devstack.Down, Up).
func PrivateCluster(t testing.TB) (config.Postgres, devstack.Options) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pgcfg := config.Default().Postgres
	pgcfg.Port = l.Addr().(*net.TCPAddr).Port
	pgcfg.SSLMode = "disable"
	_ = l.Close()
	o := devstack.Options{Dir: filepath.Join(RepoRoot(), ".pgsurreal", "test", Name(t)), PG: pgcfg, NoSurreal: true}
	if _, err := devstack.Up(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devstack.Reset(context.Background(), o) })
	return pgcfg, o
}

// PrivateSurreal starts a SurrealDB dev server of the test's own (on a
// free port, in-memory storage), for tests that need a second server,
// such as a table partitioned over two. It is stopped and removed when
// the test ends. The config reaches it as root, with a namespace and
// database named after the test.
func PrivateSurreal(t testing.TB) config.Surreal {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	o := devstack.Options{
		Dir: filepath.Join(RepoRoot(), ".pgsurreal", "test", Name(t)+"-surreal"), NoPostgres: true,
		SurrealPort: port, SurrealStorage: "mem", SurrealUser: "root", SurrealPass: "root", NodeBin: "node",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := devstack.Up(ctx, o); err != nil {
		t.Fatalf("testenv: starting a private SurrealDB server: %v", err)
	}
	t.Cleanup(func() { _ = devstack.Reset(context.Background(), o) })
	cfg := surrealConfig(fmt.Sprintf("ws://127.0.0.1:%d/rpc", port), "root", "root")
	cfg.Namespace, cfg.Database = Name(t), "test"
	return cfg
}

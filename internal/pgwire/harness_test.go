package pgwire

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

const (
	testUser     = "tester"
	testPassword = "s3cret-Pw!"
)

// harness is a running server in front of a private database.
type harness struct {
	srv    *Server
	pgcfg  config.Postgres // the database, reached directly
	pool   *pgxpool.Pool   // direct pool on it
	engine *federation.Engine
	scl    *surreal.Client // the test's SurrealDB namespace
	reg    *prometheus.Registry
}

// startServer starts a server on 127.0.0.1:0 with a real federation
// engine; tweak may change the options and, through h, the planner.
func startServer(t *testing.T, tweak func(*Options), pl planner) *harness {
	t.Helper()
	ctx := context.Background()
	env := testenv.Get(t)
	pgcfg, pool := env.NewPostgresPool(t)
	scfg, scl := env.NewSurrealClient(t)
	log := testLogger(t)
	spool, err := surreal.NewPool(ctx, scfg, log)
	if err != nil {
		t.Fatalf("surreal pool: %v", err)
	}
	t.Cleanup(func() { _ = spool.Close(ctx) })
	eng, err := federation.New(ctx, federation.Options{PG: pool, Surreal: spool, Log: log, Config: config.Default().Federation})
	if err != nil {
		t.Fatalf("federation engine: %v", err)
	}
	h := &harness{pgcfg: pgcfg, pool: pool, engine: eng, scl: scl, reg: prometheus.NewRegistry()}
	o := Options{
		Listen: "127.0.0.1:0", User: testUser, Password: testPassword,
		Postgres: pgcfg, Engine: eng, Log: log, Registerer: h.reg,
	}
	if tweak != nil {
		tweak(&o)
	}
	srv, err := Listen(o)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if pl != nil {
		srv.planner = pl
	}
	h.srv = srv
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

// dsn is a connection string for the server; extra is appended.
func (h *harness) dsn(extra string) string {
	host, port, _ := strings.Cut(h.srv.Addr().String(), ":")
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=anything sslmode=disable %s", host, port, testUser, testPassword, extra)
}

// connect opens a pgx connection through the server.
func (h *harness) connect(t *testing.T, extra string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), h.dsn(extra))
	if err != nil {
		t.Fatalf("connecting through pgwire: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// direct opens a pgx connection to PostgreSQL itself.
func (h *harness) direct(t *testing.T, extra string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), h.pgcfg.ConnString()+" "+extra)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// exec runs statements on the database directly.
func (h *harness) exec(t *testing.T, sqls ...string) {
	t.Helper()
	for _, q := range sqls {
		if _, err := h.pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// testLogger writes to the test's log until the test ends.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

var _ io.Writer = (*testWriter)(nil)

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

package pgwire

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// running reports whether PostgreSQL is running a query containing marker.
func (h *harness) running(t *testing.T, marker string) bool {
	var n int
	err := h.pool.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", marker).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestCancelRequest(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	ctx := context.Background()
	c := h.connect(t, "")
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "SELECT pg_sleep(60) /* cancel_request_marker */")
		errc <- err
	}()
	waitFor(t, "pg_sleep to start", func() bool { return h.running(t, "cancel_request_marker") })
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; errCode(err) != "57014" {
		t.Fatalf("cancelled query: %v", err)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after the cancel: %v", err)
	}
}

func TestCancelByContext(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	// pgx's default on a cancelled context: give up on the connection;
	// it sends a CancelRequest and the server must stop the query.
	t.Run("connection dropped", func(t *testing.T) {
		c := h.connect(t, "")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Exec(ctx, "SELECT pg_sleep(60) /* ctx_drop_marker */"); err == nil {
			t.Fatal("pg_sleep(60) returned")
		}
		waitFor(t, "pg_sleep to stop", func() bool { return !h.running(t, "ctx_drop_marker") })
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	// A client cancelling with a CancelRequest keeps its connection.
	t.Run("cancel request", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(h.dsn(""))
		if err != nil {
			t.Fatal(err)
		}
		cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 20 * time.Second}
		}
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = c.Exec(ctx, "SELECT pg_sleep(60) /* ctx_cancel_marker */")
		if errCode(err) != "57014" {
			t.Fatalf("cancelled query: %v", err)
		}
		var one int
		if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("after the cancel: %v", err)
		}
	})
}

func TestBackendTerminated(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	ctx := context.Background()
	c := h.connect(t, "")
	var pid int
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backend to exit", func() bool {
		var n int
		if err := h.pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	// The client hears PostgreSQL's FATAL error, then the connection ends.
	_, err := c.Exec(ctx, "SELECT 1")
	if code := errCode(err); code != "57P01" && code != "08006" || !c.IsClosed() {
		t.Fatalf("after the backend was terminated: %v", err)
	}
	waitFor(t, "the session to end", func() bool { return metricValue(t, h.srv.m.conns) == 0 })
}

package pgwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// runPipeline sends three statements and a Sync in one pipeline and
// returns what the client saw of each.
func runPipeline(t *testing.T, c *pgx.Conn, sqls ...string) []string {
	t.Helper()
	ctx := context.Background()
	p := c.PgConn().StartPipeline(ctx)
	for _, q := range sqls {
		p.SendQueryParams(q, nil, nil, nil, nil)
	}
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for {
		res, err := p.GetResults()
		if err != nil {
			seen = append(seen, "error "+errCode(err))
			continue
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			tag, err := r.Close()
			if err != nil {
				seen = append(seen, "error "+errCode(err))
			} else {
				seen = append(seen, tag.String())
			}
		case *pgconn.PipelineSync:
			seen = append(seen, "sync")
			if err := p.Close(); err != nil {
				t.Fatalf("closing the pipeline: %v", err)
			}
			return seen
		case nil:
			t.Fatalf("pipeline ended without a sync: %v", seen)
		}
	}
}

func errCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return err.Error()
}

func countRows(t *testing.T, h *harness, table string) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPipelineErrorThenSync(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, "CREATE TABLE p (id int PRIMARY KEY)")
	stmts := []string{"INSERT INTO p VALUES (1)", "SELECT 1/0", "INSERT INTO p VALUES (2)"}
	direct := runPipeline(t, h.direct(t, ""), stmts...)
	directRows := countRows(t, h, "p")
	h.exec(t, "TRUNCATE p")
	via := h.connect(t, "")
	got := runPipeline(t, via, stmts...)
	if !reflect.DeepEqual(got, direct) {
		t.Errorf("pipeline: got %v, PostgreSQL %v", got, direct)
	}
	// The pipeline was one implicit transaction: the first insert is gone too.
	if n := countRows(t, h, "p"); n != directRows || n != 0 {
		t.Errorf("rows after the failed pipeline: %d, PostgreSQL left %d", n, directRows)
	}
	var one int
	if err := via.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("connection after the pipeline: %v", err)
	}
	if got := runPipeline(t, via, "INSERT INTO p VALUES (3)", "INSERT INTO p VALUES (4)"); !reflect.DeepEqual(got, []string{"INSERT 0 1", "INSERT 0 1", "sync"}) {
		t.Errorf("second pipeline: %v", got)
	}
}

func TestBatchErrorMatchesPostgres(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, "CREATE TABLE b (id int PRIMARY KEY)")
	run := func(c *pgx.Conn) []string {
		var b pgx.Batch
		b.Queue("INSERT INTO b VALUES ($1)", 1)
		b.Queue("INSERT INTO b VALUES ($1)", 1) // unique violation
		b.Queue("INSERT INTO b VALUES ($1)", 2)
		br := c.SendBatch(context.Background(), &b)
		var seen []string
		for range 3 {
			tag, err := br.Exec()
			if err != nil {
				seen = append(seen, "error "+errCode(err))
			} else {
				seen = append(seen, tag.String())
			}
		}
		if err := br.Close(); err != nil {
			seen = append(seen, "close "+errCode(err))
		}
		return seen
	}
	want := run(h.direct(t, ""))
	h.exec(t, "TRUNCATE b")
	via := h.connect(t, "")
	if got := run(via); !reflect.DeepEqual(got, want) {
		t.Errorf("batch: got %v, PostgreSQL %v", got, want)
	}
	if n := countRows(t, h, "b"); n != 0 {
		t.Errorf("%d rows left by a failed batch", n)
	}
	if _, err := via.Exec(context.Background(), "INSERT INTO b VALUES (9)"); err != nil {
		t.Fatalf("after the batch: %v", err)
	}
}

func TestTransactionStatus(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, "CREATE TABLE tx (id int)")
	ctx := context.Background()
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c := h.connect(t, "")
		status := func(want byte, step string) {
			t.Helper()
			if got := c.PgConn().TxStatus(); got != want {
				t.Fatalf("mode %v, after %s: status %c, want %c", m, step, got, want)
			}
		}
		status('I', "connect")
		if _, err := c.Exec(ctx, "BEGIN", m); err != nil {
			t.Fatal(err)
		}
		status('T', "BEGIN")
		if _, err := c.Exec(ctx, "INSERT INTO tx VALUES ($1)", m, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SELECT $1::int / 0", m, 1); errCode(err) != "22012" {
			t.Fatalf("division: %v", err)
		}
		status('E', "an error")
		if _, err := c.Exec(ctx, "SELECT 1", m); errCode(err) != "25P02" {
			t.Fatalf("in a failed transaction: %v", err)
		}
		tag, err := c.Exec(ctx, "COMMIT", m)
		if err != nil || tag.String() != "ROLLBACK" {
			t.Fatalf("COMMIT of a failed transaction: %q %v", tag, err)
		}
		status('I', "COMMIT")
		if n := countRows(t, h, "tx"); n != 0 {
			t.Fatalf("%d rows after a rolled back transaction", n)
		}
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO tx VALUES ($1)", m, 2); err != nil {
			t.Fatal(err)
		}
		status('T', "insert")
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		status('I', "commit")
		if n := countRows(t, h, "tx"); n != 1 {
			t.Fatalf("%d rows after commit", n)
		}
		h.exec(t, "TRUNCATE tx")
	}
}

func TestCopyNoticesAndNotifications(t *testing.T) {
	t.Parallel()
	h := startServer(t, nil, nil)
	h.exec(t, "CREATE TABLE cp (id int, name text)")
	ctx := context.Background()
	notices := make(chan string, 4)
	cfg, err := pgx.ParseConfig(h.dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices <- n.Severity + " " + n.Message }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)

	rows := [][]any{{1, "a"}, {2, "b\tc"}, {3, nil}}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"cp"}, []string{"id", "name"}, pgx.CopyFromRows(rows))
	if err != nil || n != 3 {
		t.Fatalf("COPY FROM: %d %v", n, err)
	}
	var via, direct bytes.Buffer
	if _, err := c.PgConn().CopyTo(ctx, &via, "COPY cp TO STDOUT ORDER BY id"); err == nil {
		t.Fatal("COPY with ORDER BY should fail as in PostgreSQL")
	}
	if _, err := c.PgConn().CopyTo(ctx, &via, "COPY (SELECT * FROM cp ORDER BY id) TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.direct(t, "").PgConn().CopyTo(ctx, &direct, "COPY (SELECT * FROM cp ORDER BY id) TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	if via.String() != direct.String() {
		t.Errorf("COPY TO: got %q, PostgreSQL %q", via.String(), direct.String())
	}

	if _, err := c.Exec(ctx, "DO $$BEGIN RAISE NOTICE 'hello %', 42; END$$"); err != nil {
		t.Fatal(err)
	}
	if got := <-notices; got != "NOTICE hello 42" {
		t.Errorf("notice %q", got)
	}

	if _, err := c.Exec(ctx, "LISTEN pgwire_test"); err != nil {
		t.Fatal(err)
	}
	other := h.connect(t, "")
	if _, err := other.Exec(ctx, "SELECT pg_notify('pgwire_test', 'payload 1')"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	note, err := c.WaitForNotification(wctx)
	if err != nil {
		t.Fatalf("waiting for the notification: %v", err)
	}
	if note.Channel != "pgwire_test" || note.Payload != "payload 1" {
		t.Errorf("notification %+v", note)
	}
	if got := fmt.Sprint(countRows(t, h, "cp")); got != "3" {
		t.Errorf("%s rows copied", got)
	}
}

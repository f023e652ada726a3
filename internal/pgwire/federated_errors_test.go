package pgwire

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestFederatedPlanningErrors(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	ctx := context.Background()
	c := h.connect(t, "")

	// Simple query: the statements before run, the error's position
	// counts from the start of the whole string.
	q := "SELECT 1 AS one; SELECT * FROM surreal.missing"
	results, err := c.PgConn().Exec(ctx, q).ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42P01" || int(pe.Position) != strings.Index(q, "surreal.missing")+1 {
		t.Fatalf("simple query: %v (position %v)", err, pe)
	}
	if len(results) < 1 || len(results[0].Rows) != 1 || string(results[0].Rows[0][0]) != "1" {
		t.Fatalf("first statement's result: %+v", results)
	}

	// Extended protocol, every mode.
	for _, m := range execModes {
		_, err := c.Exec(ctx, "SELECT * FROM surreal.missing WHERE age > $1", m.mode, 1)
		if !errors.As(err, &pe) || pe.Code != "42P01" || pe.Position != 15 {
			t.Fatalf("%s: %v", m.name, err)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT 1", m.mode).Scan(&n); err != nil {
			t.Fatalf("%s: after the error: %v", m.name, err)
		}
	}
}

func TestFederatedErrorInPipeline(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	h.exec(t, "CREATE TABLE p (id int PRIMARY KEY)")
	want := runPipeline(t, h.direct(t, ""), "INSERT INTO p VALUES (1)", "SELECT * FROM no_such_table", "INSERT INTO p VALUES (2)")
	h.exec(t, "TRUNCATE p")
	via := h.connect(t, "")
	got := runPipeline(t, via, "INSERT INTO p VALUES (1)", "SELECT * FROM surreal.missing", "INSERT INTO p VALUES (2)")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("planning error in a pipeline: got %v, PostgreSQL %v", got, want)
	}
	// As in PostgreSQL, the failed pipeline's first insert is rolled back.
	if n := countRows(t, h, "p"); n != 0 {
		t.Errorf("%d rows after the failed pipeline", n)
	}
	// An error before a federated statement: it is skipped.
	want = runPipeline(t, h.direct(t, ""), "SELECT 1/0", "SELECT name FROM person", "SELECT 2")
	got = runPipeline(t, via, "SELECT 1/0", "SELECT name FROM surreal.person", "SELECT 2")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("error before a federated statement: got %v, PostgreSQL %v", got, want)
	}
	// A federated statement in a pipeline that succeeds.
	got = runPipeline(t, via, "INSERT INTO p VALUES (7)", "SELECT name FROM surreal.person", "SELECT 2")
	if !reflect.DeepEqual(got, []string{"INSERT 0 1", "SELECT 3", "SELECT 1", "sync"}) {
		t.Errorf("mixed pipeline: %v", got)
	}
}

func TestFederatedErrorsInTransactions(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	h.exec(t, "CREATE TABLE t (id int)")
	ctx := context.Background()
	for _, m := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		c := h.connect(t, "")
		if _, err := c.Exec(ctx, "BEGIN", m); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO t VALUES (1)", m); err != nil {
			t.Fatal(err)
		}
		_, err := c.Exec(ctx, "SELECT name FROM surreal.broken", m)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "XX000" || !strings.Contains(pe.Message, "table broken is unreadable") {
			t.Fatalf("mode %v: %v", m, err)
		}
		if s := c.PgConn().TxStatus(); s != 'E' {
			t.Fatalf("mode %v: status %c after a failed federated statement", m, s)
		}
		if _, err := c.Exec(ctx, "SELECT name FROM surreal.person", m); errCode(err) != "25P02" {
			t.Fatalf("mode %v: federated statement in a failed transaction: %v", m, err)
		}
		tag, err := c.Exec(ctx, "COMMIT", m)
		if err != nil || tag.String() != "ROLLBACK" {
			t.Fatalf("mode %v: COMMIT: %q %v", m, tag, err)
		}
		if n := countRows(t, h, "t"); n != 0 {
			t.Fatalf("mode %v: %d rows committed", m, n)
		}
	}
}

func TestFederatedMixedSimpleQuery(t *testing.T) {
	t.Parallel()
	h, _ := startFake(t)
	h.exec(t, "CREATE TABLE t (id int)")
	c := h.connect(t, "")
	results, err := c.PgConn().Exec(context.Background(),
		"INSERT INTO t VALUES (5); SELECT name FROM surreal.person ORDER BY name; SET TimeZone = 'Asia/Tokyo'; SELECT 2 AS two").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		var vals []string
		for _, row := range r.Rows {
			vals = append(vals, string(row[0]))
		}
		got = append(got, r.CommandTag.String()+" "+strings.Join(vals, ","))
	}
	want := []string{"INSERT 0 1 ", "SELECT 3 ada,bob,cy", "SET ", "SELECT 1 2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// The SET ran by the session was reported to the client.
	if tz := c.PgConn().ParameterStatus("TimeZone"); tz != "Asia/Tokyo" {
		t.Errorf("TimeZone reported as %q", tz)
	}
	if s := c.PgConn().TxStatus(); s != 'I' {
		t.Errorf("status %c", s)
	}
}

func TestCancelFederated(t *testing.T) {
	t.Parallel()
	h, f := startFake(t)
	ctx := context.Background()
	c := h.connect(t, "")
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "SELECT * FROM surreal.slow WHERE age > $1", 1)
		errc <- err
	}()
	waitFor(t, "the engine to read SurrealDB", func() bool { return len(f.seen()) > 0 })
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; errCode(err) != "57014" {
		t.Fatalf("cancelled federated query: %v", err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM surreal.person").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after the cancel: %d %v", n, err)
	}
}

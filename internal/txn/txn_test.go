package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// fixture is a private database and namespace, with an account table on
// each side.
type fixture struct {
	pgcfg config.Postgres
	pg    *pgxpool.Pool
	scfg  config.Surreal
	sur   *surreal.Pool
	o     Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.Get(t)
	pgcfg, pool := env.NewPostgresPool(t)
	return newFixtureOn(t, pgcfg, pool)
}

// newFixtureOn is newFixture on a given PostgreSQL database.
func newFixtureOn(t *testing.T, pgcfg config.Postgres, pool *pgxpool.Pool) *fixture {
	t.Helper()
	env := testenv.Get(t)
	f := &fixture{pgcfg: pgcfg, pg: pool}
	f.scfg, _ = env.NewSurrealClient(t)
	ctx := context.Background()
	var err error
	if f.sur, err = surreal.NewPool(ctx, f.scfg, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.sur.Close(context.Background()) })
	if _, err := f.pg.Exec(ctx, "CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL); INSERT INTO acct VALUES (1, 100), (2, 100)"); err != nil {
		t.Fatal(err)
	}
	f.surrealExec(t, "DEFINE TABLE acct SCHEMAFULL; DEFINE FIELD bal ON acct TYPE int; CREATE acct:1 SET bal = 100; CREATE acct:2 SET bal = 100;")
	f.o = Options{PG: f.pg, Surreal: f.sur, Lease: 2 * time.Second, Log: slog.New(slog.DiscardHandler)}
	// Prepared transactions outlive sessions and block DROP DATABASE.
	t.Cleanup(func() {
		rows, _ := f.pg.Query(context.Background(), "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")
		var gids []string
		for rows.Next() {
			var g string
			_ = rows.Scan(&g)
			gids = append(gids, g)
		}
		rows.Close()
		for _, g := range gids {
			_, _ = f.pg.Exec(context.Background(), "ROLLBACK PREPARED "+quoteLiteral(g))
		}
	})
	return f
}

func (f *fixture) surrealExec(t *testing.T, sql string) {
	t.Helper()
	err := f.sur.Do(context.Background(), func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[any](ctx, cl.DB, sql, nil)
		if err != nil {
			return err
		}
		for _, r := range *res {
			if r.Status != "OK" {
				return fmt.Errorf("%v", r.Result)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) coordinator(t *testing.T) *Coordinator {
	t.Helper()
	c, err := Start(context.Background(), f.o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// balances reads account id on both sides.
func (f *fixture) balances(t *testing.T, id int) (pg, sdb int64) {
	t.Helper()
	ctx := context.Background()
	if err := f.pg.QueryRow(ctx, "SELECT bal FROM acct WHERE id = $1", id).Scan(&pg); err != nil {
		t.Fatal(err)
	}
	err := f.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT bal FROM type::record('acct', $id)", map[string]any{"id": id})
		if err != nil {
			return err
		}
		fmt.Sscan(fmt.Sprint((*res)[0].Result[0]["bal"]), &sdb)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pg, sdb
}

// transfer moves amount from the PostgreSQL account to the SurrealDB one.
func transfer(id, amount int) func(context.Context, *Tx) error {
	return func(ctx context.Context, tx *Tx) error {
		if _, err := tx.PG().Exec(ctx, "UPDATE acct SET bal = bal - $1 WHERE id = $2", amount, id); err != nil {
			return err
		}
		_, err := tx.Surreal().Query(ctx, "UPDATE type::record('acct', $id) SET bal += $amount", map[string]any{"id": id, "amount": amount})
		return err
	}
}

func TestCommitBothOrNeither(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.coordinator(t)
	ctx := context.Background()
	if err := c.RunTx(ctx, TxOptions{}, transfer(1, 30)); err != nil {
		t.Fatal(err)
	}
	if pg, sdb := f.balances(t, 1); pg != 70 || sdb != 130 {
		t.Fatalf("after the transfer: PostgreSQL %d, SurrealDB %d; want 70 and 130", pg, sdb)
	}
	boom := errors.New("boom")
	err := c.RunTx(ctx, TxOptions{}, func(ctx context.Context, tx *Tx) error {
		if err := transfer(1, 30)(ctx, tx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	// A SurrealDB statement refused after the PostgreSQL update: neither.
	err = c.RunTx(ctx, TxOptions{Isolation: "serializable"}, func(ctx context.Context, tx *Tx) error {
		if err := transfer(1, 30)(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Surreal().Query(ctx, "UPDATE type::record('acct', 1) SET bal = 'not a number'", nil)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "SurrealDB") {
		t.Fatalf("err = %v, want SurrealDB's refusal", err)
	}
	if pg, sdb := f.balances(t, 1); pg != 70 || sdb != 130 {
		t.Fatalf("after two failed transfers: PostgreSQL %d, SurrealDB %d; want 70 and 130", pg, sdb)
	}
	if n := preparedCount(t, f); n != 0 {
		t.Fatalf("%d prepared transactions left", n)
	}
	if got := testutil.ToFloat64(c.o.Metrics.Committed); got != 1 {
		t.Errorf("committed = %v", got)
	}
}

func preparedCount(t *testing.T, f *fixture) int {
	var n int
	if err := f.pg.QueryRow(context.Background(), "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetries: a serialization failure (PostgreSQL's own SQLSTATE 40001)
// runs the transaction again; past MaxAttempts it gives up with a clear
// error and nothing applied.
func TestRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.coordinator(t)
	ctx := context.Background()
	var calls atomic.Int32
	failFirst := func(ctx context.Context, tx *Tx) error {
		if err := transfer(2, 10)(ctx, tx); err != nil {
			return err
		}
		if calls.Add(1) == 1 {
			_, err := tx.PG().Exec(ctx, "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40001'; END $$")
			return err
		}
		return nil
	}
	if err := c.RunTx(ctx, TxOptions{Isolation: "repeatable read"}, failFirst); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || testutil.ToFloat64(c.o.Metrics.Retried) != 1 {
		t.Fatalf("calls %d, retries %v; want 2 and 1", calls.Load(), testutil.ToFloat64(c.o.Metrics.Retried))
	}
	if pg, sdb := f.balances(t, 2); pg != 90 || sdb != 110 {
		t.Fatalf("PostgreSQL %d, SurrealDB %d; want 90 and 110 (applied once)", pg, sdb)
	}
	always := func(ctx context.Context, tx *Tx) error {
		if err := transfer(2, 10)(ctx, tx); err != nil {
			return err
		}
		_, err := tx.PG().Exec(ctx, "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40P01'; END $$")
		return err
	}
	err := c.RunTx(ctx, TxOptions{MaxAttempts: 3}, always)
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("err = %v, want a give-up after 3 attempts", err)
	}
	if pg, sdb := f.balances(t, 2); pg != 90 || sdb != 110 {
		t.Fatalf("after giving up: PostgreSQL %d, SurrealDB %d; want 90 and 110", pg, sdb)
	}
	if _, err := isolation("snapshot"); err == nil {
		t.Error("an unknown isolation level was accepted")
	}
}

// TestFence: when the resolver decides abort for a transaction whose
// coordinator is presumed gone, that coordinator can no longer commit,
// whether the fence lands before it writes its decision or between that
// write and its commit.
func TestFence(t *testing.T) {
	t.Parallel()
	for _, point := range []string{FaultAfterPGPrepare, pointDecisionWritten} {
		t.Run(point, func(t *testing.T) {
			f := newFixture(t)
			c := f.coordinator(t)
			ctx := context.Background()
			var rep Report
			var recErr error
			c.hook = func(p string) {
				if p != point {
					return
				}
				// The coordinator looks dead to others: its lease row expired.
				if _, err := f.pg.Exec(ctx, "UPDATE pgsurreal.tx_coordinator SET expires_at = now() - interval '1 second' WHERE id = $1", c.ID()); err != nil {
					t.Error(err)
				}
				rep, recErr = Recover(ctx, f.o)
			}
			err := c.RunTx(ctx, TxOptions{MaxAttempts: 1}, transfer(1, 5))
			if recErr != nil {
				t.Fatal(recErr)
			}
			if err == nil {
				t.Fatal("the coordinator committed after the resolver had aborted")
			}
			if rep.RolledBack != 1 {
				t.Fatalf("recovery report %+v, want one rollback", rep)
			}
			if pg, sdb := f.balances(t, 1); pg != 100 || sdb != 100 {
				t.Fatalf("PostgreSQL %d, SurrealDB %d; want both untouched", pg, sdb)
			}
		})
	}
}

// TestRecoverFinishesDecided: a transaction whose coordinator stopped
// after the commit point is committed by the resolver; one stopped
// before it is rolled back once its coordinator's lease expires, not
// before; prepared transactions that are not pgsurreal's stay.
func TestRecoverFinishesDecided(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.pg.Exec(ctx, "BEGIN; INSERT INTO acct VALUES (99, 0); PREPARE TRANSACTION 'someone_else:1'"); err != nil {
		t.Fatal(err)
	}
	stopAt := func(point string, fn func(context.Context, *Tx) error) *Coordinator {
		c := f.coordinator(t)
		c.hook = func(p string) {
			if p == point {
				panic(errStop)
			}
		}
		var runErr error
		stopped := func() (stopped bool) {
			defer func() {
				if r := recover(); r != nil {
					if r != errStop {
						panic(r)
					}
					stopped = true
				}
			}()
			runErr = c.RunTx(ctx, TxOptions{}, fn)
			return false
		}()
		if !stopped {
			t.Fatalf("RunTx did not reach %s: %v", point, runErr)
		}
		c.stop() // the process is gone: no more renewals
		<-c.done
		return c
	}
	decided := stopAt(FaultAfterSurrealCommit, transfer(1, 40))
	undecided := stopAt(FaultAfterPGPrepare, transfer(2, 7))
	rep, err := Recover(ctx, f.o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.InDoubt != 2 || rep.Committed != 1 || rep.Waiting != 1 {
		t.Fatalf("first pass %+v: want 2 in doubt, 1 committed, 1 waiting for its lease", rep)
	}
	if _, err := f.pg.Exec(ctx, "UPDATE pgsurreal.tx_coordinator SET expires_at = now() WHERE id = $1", undecided.ID()); err != nil {
		t.Fatal(err)
	}
	rep, err = Recover(ctx, f.o)
	if err != nil || rep.RolledBack != 1 || rep.InDoubt != 1 {
		t.Fatalf("second pass %+v, %v: want the undecided one rolled back", rep, err)
	}
	if pg, sdb := f.balances(t, 1); pg != 60 || sdb != 140 {
		t.Fatalf("account 1: PostgreSQL %d, SurrealDB %d; want 60 and 140 (the decided transfer)", pg, sdb)
	}
	if pg, sdb := f.balances(t, 2); pg != 100 || sdb != 100 {
		t.Fatalf("account 2: PostgreSQL %d, SurrealDB %d; want both untouched (the undecided transfer)", pg, sdb)
	}
	var gid string
	if err := f.pg.QueryRow(ctx, "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()").Scan(&gid); err != nil || gid != "someone_else:1" {
		t.Fatalf("left prepared: %q, %v; want only someone_else:1", gid, err)
	}
	_ = decided
}

var errStop = errors.New("coordinator stopped here")

// TestQueuedStatements: statements queued with Exec run at commit with the
// decision, in one SurrealDB round trip; one SurrealDB refuses there
// leaves nothing applied on either side.
func TestQueuedStatements(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.coordinator(t)
	ctx := context.Background()
	queuedTransfer := func(id, amount int, bad bool) func(context.Context, *Tx) error {
		return func(ctx context.Context, tx *Tx) error {
			if _, err := tx.PG().Exec(ctx, "UPDATE acct SET bal = bal - $1 WHERE id = $2", amount, id); err != nil {
				return err
			}
			if err := tx.Surreal().Exec("UPDATE type::record('acct', $id) SET bal += $amount", map[string]any{"id": id, "amount": amount}); err != nil {
				return err
			}
			if bad {
				return tx.Surreal().Exec("UPDATE type::record('acct', $id) SET bal = 'x'", map[string]any{"id": id})
			}
			return nil
		}
	}
	if err := c.RunTx(ctx, TxOptions{}, queuedTransfer(2, 25, false)); err != nil {
		t.Fatal(err)
	}
	if err := c.RunTx(ctx, TxOptions{}, queuedTransfer(2, 25, true)); err == nil {
		t.Fatal("a refused queued statement committed")
	}
	if pg, sdb := f.balances(t, 2); pg != 75 || sdb != 125 {
		t.Fatalf("PostgreSQL %d, SurrealDB %d; want 75 and 125 (the good transfer only)", pg, sdb)
	}
	if n := preparedCount(t, f); n != 0 {
		t.Fatalf("%d prepared transactions left", n)
	}
	err := c.RunTx(ctx, TxOptions{}, func(ctx context.Context, tx *Tx) error {
		if err := tx.Surreal().Exec("UPDATE acct:1 SET bal = $v", map[string]any{"v": 1}); err != nil {
			return err
		}
		return tx.Surreal().Exec("UPDATE acct:2 SET bal = $v", map[string]any{"v": 2})
	})
	if err == nil || !strings.Contains(err.Error(), "$v is given two values") {
		t.Fatalf("err = %v, want the parameter clash named", err)
	}
}

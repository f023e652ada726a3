package txn

import (
	"context"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// TestSurrealUnreachableAtCommit: SurrealDB becomes unreachable right
// after the PostgreSQL part is prepared. The transaction fails (its
// outcome cannot be settled while SurrealDB is gone), stays prepared, and
// once SurrealDB is back the resolver rolls it back: neither side has it.
func TestSurrealUnreachableAtCommit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	px, viaProxy := testenv.NewProxy(t, f.scfg.URL)
	cut := f.scfg
	cut.URL = viaProxy
	sp, err := surreal.NewPool(ctx, cut, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })
	o := f.o
	o.Surreal = sp
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c.hook = func(p string) {
		if p == FaultAfterPGPrepare {
			px.Stop()
		}
	}
	err = c.RunTx(ctx, TxOptions{MaxAttempts: 1}, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.PG().Exec(ctx, "UPDATE acct SET bal = bal - 9 WHERE id = 1"); err != nil {
			return err
		}
		return tx.Surreal().Exec("UPDATE acct:1 SET bal += 9", nil)
	})
	if err == nil {
		t.Fatal("the transaction committed with SurrealDB unreachable")
	}
	if preparedCount(t, f) != 1 {
		t.Fatalf("%d prepared transactions; want the undecided one kept for the resolver", preparedCount(t, f))
	}
	_ = c.Close(ctx)              // gives the lease up, as a coordinator that stops does
	rep, err := Recover(ctx, f.o) // SurrealDB reachable again (directly)
	if err != nil || rep.RolledBack != 1 {
		t.Fatalf("recovery %+v, %v: want the transaction rolled back", rep, err)
	}
	if pg, sdb := f.balances(t, 1); pg != 100 || sdb != 100 {
		t.Fatalf("PostgreSQL %d, SurrealDB %d; want both untouched", pg, sdb)
	}
}

// TestPostgresRestartWhilePrepared: PostgreSQL (a private cluster) is
// restarted while two transactions are prepared, one past the commit
// point and one before it; prepared transactions survive the restart, and
// recovery commits the first and rolls back the second.
func TestPostgresRestartWhilePrepared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pgcfg, stack := testenv.PrivateCluster(t)
	pool, err := postgres.Connect(ctx, pgcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := newFixtureOn(t, pgcfg, pool)
	stopAt := func(point string, fn func(context.Context, *Tx) error) {
		c := f.coordinator(t)
		c.hook = func(p string) {
			if p == point {
				panic(errStop)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != errStop {
					t.Fatalf("RunTx did not reach %s (%v)", point, r)
				}
			}()
			_ = c.RunTx(ctx, TxOptions{}, fn)
		}()
		c.stop()
		<-c.done
	}
	stopAt(FaultAfterSurrealCommit, transfer(1, 40))
	stopAt(FaultAfterPGPrepare, transfer(2, 7))
	if err := devstack.Down(ctx, stack); err != nil {
		t.Fatal(err)
	}
	if _, err := devstack.Up(ctx, stack); err != nil {
		t.Fatal(err)
	}
	pool.Reset() // its connections died with the server
	if n := preparedCount(t, f); n != 2 {
		t.Fatalf("%d prepared transactions after the restart, want 2", n)
	}
	if _, err := f.pg.Exec(ctx, "UPDATE pgsurreal.tx_coordinator SET expires_at = now()"); err != nil {
		t.Fatal(err)
	}
	rep, err := Recover(ctx, f.o)
	if err != nil || rep.Committed != 1 || rep.RolledBack != 1 {
		t.Fatalf("recovery %+v, %v: want one commit and one rollback", rep, err)
	}
	if pg, sdb := f.balances(t, 1); pg != 60 || sdb != 140 {
		t.Fatalf("account 1: PostgreSQL %d, SurrealDB %d; want 60 and 140", pg, sdb)
	}
	if pg, sdb := f.balances(t, 2); pg != 100 || sdb != 100 {
		t.Fatalf("account 2: PostgreSQL %d, SurrealDB %d; want both untouched", pg, sdb)
	}
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

// interactionTable is where the demo's transactions record a checkout in
// SurrealDB.
const interactionTable = "interaction"

// transactions writes an order (PostgreSQL) and the customer's checkout
// interaction (SurrealDB) as one distributed transaction, then shows one
// that SurrealDB refuses leaving nothing on either side.
func (d *session) transactions(ctx context.Context, p *printer, res *Result) error {
	pool, err := surreal.NewPool(ctx, d.o.demoSurreal(), d.o.Log)
	if err != nil {
		return err
	}
	defer pool.Close(context.WithoutCancel(ctx))
	c, err := txn.Start(ctx, txn.Options{PG: d.pool, Surreal: pool, Log: d.o.Log})
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	checkout := func(fail bool) func(context.Context, *txn.Tx) error {
		return func(ctx context.Context, tx *txn.Tx) error {
			var id int
			if err := tx.PG().QueryRow(ctx, "INSERT INTO orders (user_id, status, placed_at) VALUES ($1, 'paid', now()) RETURNING id", showUser).Scan(&id); err != nil {
				return err
			}
			kind := "checkout"
			if fail {
				kind = "" // the field is defined as a non-empty string: SurrealDB refuses it
			}
			return tx.Surreal().Exec("CREATE type::record($t, $id) SET user = type::record('users', $user), kind = $kind, at = time::now()",
				map[string]any{"t": interactionTable, "id": id, "user": showUser, "kind": kind})
		}
	}
	if err := surrealExec(ctx, pool, "DEFINE TABLE OVERWRITE "+surreal.Ident(interactionTable)+" SCHEMALESS; DEFINE FIELD OVERWRITE kind ON "+
		surreal.Ident(interactionTable)+" TYPE string ASSERT string::len($value) > 0;"); err != nil {
		return err
	}
	p.note("an order in PostgreSQL and the checkout it records in SurrealDB, committed together (txn.RunTx):")
	p.query(fmt.Sprintf("INSERT INTO orders (user_id, status, placed_at) VALUES (%d, 'paid', now())   -- PostgreSQL\nCREATE interaction:<order id> SET user = users:%d, kind = 'checkout'   -- SurrealDB", showUser, showUser))
	began := time.Now()
	if err := c.RunTx(ctx, txn.TxOptions{}, checkout(false)); err != nil {
		return fmt.Errorf("the distributed transaction failed: %w", err)
	}
	orders, interactions, err := d.checkoutCounts(ctx, pool)
	if err != nil {
		return err
	}
	res.TxCommitted = interactions == 1
	p.ok("committed in %s: user %d has %d orders in PostgreSQL, %d checkout interaction in SurrealDB", ms(time.Since(began)), showUser, orders, interactions)
	p.note("the same with a value SurrealDB refuses: the PostgreSQL insert is rolled back too")
	err = c.RunTx(ctx, txn.TxOptions{MaxAttempts: 1}, checkout(true))
	if err == nil {
		return errors.New("a transaction SurrealDB refused was committed")
	}
	orders2, interactions2, err2 := d.checkoutCounts(ctx, pool)
	if err2 != nil {
		return err2
	}
	res.TxRolledBack = orders2 == orders && interactions2 == interactions
	p.ok("refused (%s): still %d orders and %d interaction: nothing of it on either side", firstLineOf(err.Error()), orders2, interactions2)
	p.line("the protocol, crash recovery and guarantees: docs/transactions.md; over HTTP: POST /v1/tx")
	return nil
}

func (d *session) checkoutCounts(ctx context.Context, pool *surreal.Pool) (orders, interactions int, err error) {
	if err = d.pool.QueryRow(ctx, "SELECT count(*) FROM orders WHERE user_id = $1", showUser).Scan(&orders); err != nil {
		return 0, 0, err
	}
	err = pool.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT count() AS n FROM "+surreal.Ident(interactionTable)+" GROUP ALL", nil)
		if err != nil {
			return err
		}
		if len((*res)[0].Result) > 0 {
			_, err = fmt.Sscan(fmt.Sprint((*res)[0].Result[0]["n"]), &interactions)
		}
		return err
	})
	return orders, interactions, err
}

func surrealExec(ctx context.Context, pool *surreal.Pool, sql string) error {
	return pool.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
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
}

func firstLineOf(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

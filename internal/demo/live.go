package demo

import (
	"context"
	"fmt"
	"math/big"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
)

// Products the live order buys; the first one's price changes next.
const (
	liveProductA = 7
	liveProductB = 11
)

// live commits three changes in PostgreSQL (a multi-table transaction,
// an update, a delete) and measures when each becomes visible in
// SurrealDB.
func (d *session) live(ctx context.Context, p *printer, pl *pipeline) ([]Change, error) {
	var out []Change

	// 1. A new order with two items and its payment, in one transaction.
	p.note("one PostgreSQL transaction: a new order for users:%d, two order_items and a payment", socialUser)
	p.query("BEGIN; INSERT INTO orders ...; INSERT INTO order_items ... (2 rows); INSERT INTO payments ...; COMMIT")
	orderID, paymentID, start, err := d.insertOrder(ctx)
	if err != nil {
		return nil, err
	}
	lat, err := d.await(ctx, pl, "the new order", start, func(ctx context.Context) (bool, error) {
		return d.orderVisible(ctx, orderID, paymentID)
	})
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("orders:%d + 2 order_items + payments:%d", orderID, paymentID)
	p.ok("%s visible in SurrealDB after %s (one source transaction, applied atomically)", what, latency(lat))
	out = append(out, Change{What: what, Latency: lat})
	if err := d.showOne(ctx, p, showcase{
		note:    "the new order's lines, with the product names read through the links",
		display: fmt.Sprintf("SELECT line_no, product.name AS product, qty, unit_price FROM order_items WHERE order = orders:%d", orderID),
		sql:     "SELECT line_no, product.name AS product, qty, unit_price FROM order_items WHERE `order` = type::record($tb, $id) ORDER BY line_no",
		vars:    map[string]any{"tb": "orders", "id": orderID},
	}); err != nil {
		return nil, err
	}

	if err := d.showOne(ctx, p, showcase{
		note:    "and the placed edge was created with it",
		display: fmt.Sprintf("SELECT name, <-placed<-orders AS orders FROM users:%d", socialUser),
		sql:     "SELECT name, <-placed<-orders AS orders FROM type::record($tb, $id)",
		vars:    map[string]any{"tb": "users", "id": socialUser},
	}); err != nil {
		return nil, err
	}

	// 2. A price change.
	var oldPrice, newPrice string
	if err := d.pool.QueryRow(ctx, "SELECT price::text, round(price * 0.9, 2)::text FROM products WHERE id = $1", liveProductA).Scan(&oldPrice, &newPrice); err != nil {
		return nil, fmt.Errorf("reading the price of product %d: %w", liveProductA, err)
	}
	p.note("a price cut (the order above keeps the unit_price it was sold at)")
	p.query(fmt.Sprintf("UPDATE products SET price = %s WHERE id = %d   -- was %s", newPrice, liveProductA, oldPrice))
	start = time.Now()
	if _, err := d.pool.Exec(ctx, "UPDATE products SET price = $1::numeric WHERE id = $2", newPrice, liveProductA); err != nil {
		return nil, fmt.Errorf("updating product %d: %w", liveProductA, err)
	}
	lat, err = d.await(ctx, pl, "the price change", start, func(ctx context.Context) (bool, error) {
		return d.priceIs(ctx, liveProductA, newPrice)
	})
	if err != nil {
		return nil, err
	}
	what = fmt.Sprintf("products:%d price %sdec", liveProductA, newPrice)
	p.ok("%s visible in SurrealDB after %s", what, latency(lat))
	out = append(out, Change{What: what, Latency: lat})

	// 3. An unfriending: the edge goes.
	var friend int64
	if err := d.pool.QueryRow(ctx, "SELECT min(friend_id) FROM friendships WHERE user_id = $1", socialUser).Scan(&friend); err != nil {
		return nil, fmt.Errorf("reading the friends of user %d: %w", socialUser, err)
	}
	p.note("an unfriending removes a graph edge")
	p.query(fmt.Sprintf("DELETE FROM friendships WHERE user_id = %d AND friend_id = %d", socialUser, friend))
	start = time.Now()
	if _, err := d.pool.Exec(ctx, "DELETE FROM friendships WHERE user_id = $1 AND friend_id = $2", socialUser, friend); err != nil {
		return nil, fmt.Errorf("deleting a friendship: %w", err)
	}
	edge := []any{int64(socialUser), friend}
	lat, err = d.await(ctx, pl, "the deleted friendship", start, func(ctx context.Context) (bool, error) {
		n, err := d.exists(ctx, "friendships", edge)
		return !n, err
	})
	if err != nil {
		return nil, err
	}
	what = fmt.Sprintf("edge friendships:[%d, %d] gone", socialUser, friend)
	p.ok("%s from SurrealDB after %s", what, latency(lat))
	out = append(out, Change{What: what, Latency: lat})
	if err := d.showOne(ctx, p, showcase{
		note:    "the traversal no longer finds that friend",
		display: fmt.Sprintf("SELECT name, ->friendships->users.name AS friends FROM users:%d", socialUser),
		sql:     "SELECT name, ->friendships->users.name AS friends FROM type::record($tb, $id)",
		vars:    map[string]any{"tb": "users", "id": socialUser},
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// insertOrder commits the new order and returns when the COMMIT was
// sent: replication latency counts from the commit, not the inserts.
func (d *session) insertOrder(ctx context.Context) (orderID, paymentID int64, committed time.Time, err error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("inserting the live order: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := tx.QueryRow(ctx, "INSERT INTO orders (user_id, status, placed_at) VALUES ($1, 'paid', now()) RETURNING id", socialUser).Scan(&orderID); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("inserting the live order: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO order_items (order_id, line_no, product_id, qty, unit_price)
SELECT $1, row_number() OVER (ORDER BY id), id, 1 + id % 3, price FROM products WHERE id = ANY($2) ORDER BY id`,
		orderID, []int64{liveProductA, liveProductB}); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("inserting the live order's items: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO payments (order_id, amount, method, paid_at)
SELECT $1, sum(qty * unit_price), 'card', now() FROM order_items WHERE order_id = $1 RETURNING id`, orderID).Scan(&paymentID); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("inserting the live order's payment: %w", err)
	}
	committed = time.Now()
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("committing the live order: %w", err)
	}
	return orderID, paymentID, committed, nil
}

// await polls check until it reports true and returns the time since
// start. It fails if the pipeline stops or ChangeTimeout passes.
func (d *session) await(ctx context.Context, pl *pipeline, what string, start time.Time, check func(context.Context) (bool, error)) (time.Duration, error) {
	deadline := start.Add(d.o.ChangeTimeout)
	var lastErr error
	for {
		ok, err := check(ctx)
		if err == nil && ok {
			return time.Since(start), nil
		}
		if err != nil {
			lastErr = err
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if stopped, perr := pl.failed(); stopped {
			return 0, pl.stoppedError(perr)
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s did not reach %s within %s", what, pl.into, d.o.ChangeTimeout)
			if lastErr != nil {
				msg += fmt.Sprintf(" (last error: %v)", lastErr)
			}
			return 0, fmt.Errorf("%s: %w; the log (--log-level debug) says why", msg, errTimeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// orderVisible reports whether the order, both items and the payment are
// all in SurrealDB (they arrive together, in one transaction).
func (d *session) orderVisible(ctx context.Context, orderID, paymentID int64) (bool, error) {
	res, err := surrealdb.Query[any](ctx, d.sur.DB, `RETURN [
	type::record($o, $oid).id != NONE,
	count(SELECT id FROM order_items WHERE `+"`order`"+` = type::record($o, $oid)),
	type::record($p, $pid).id != NONE
]`, map[string]any{"o": "orders", "oid": orderID, "p": "payments", "pid": paymentID})
	if err != nil {
		return false, err
	}
	r, ok := (*res)[0].Result.([]any)
	if !ok || len(r) != 3 {
		return false, fmt.Errorf("unexpected result %v", (*res)[0].Result)
	}
	return r[0] == true && fmt.Sprint(r[1]) == "2" && r[2] == true, nil
}

// priceIs reports whether the product's price in SurrealDB is want.
func (d *session) priceIs(ctx context.Context, id int64, want string) (bool, error) {
	v, err := d.queryOne(ctx, "SELECT VALUE price FROM type::record($tb, $id)", map[string]any{"tb": "products", "id": id})
	if err != nil {
		return false, err
	}
	got, ok1 := new(big.Rat).SetString(fmt.Sprint(v))
	w, ok2 := new(big.Rat).SetString(want)
	return ok1 && ok2 && got.Cmp(w) == 0, nil
}

// exists reports whether the record table:id exists in SurrealDB.
func (d *session) exists(ctx context.Context, table string, id any) (bool, error) {
	v, err := d.queryOne(ctx, "RETURN type::record($tb, $id).id != NONE", map[string]any{"tb": table, "id": id})
	if err != nil {
		return false, err
	}
	return v == true, nil
}

// latency renders a replication latency in milliseconds, to 0.1 ms.
func latency(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

package demo

import (
	"context"
	"fmt"

	surrealdb "github.com/surrealdb/surrealdb.go"
)

// showcase is one query shown with its result. Display is the query as a
// user would type it into `surreal sql`; SQL is what runs, with every
// value a parameter (the two say the same thing).
type showcase struct {
	note    string
	display string
	sql     string
	vars    map[string]any
}

// Ids the tour looks at.
const (
	showUser   = 42 // a user with three orders
	socialUser = 1  // a user with friends, and friends of friends
)

// show prints documents, links and edges as they landed in SurrealDB.
func (d *session) show(ctx context.Context, p *printer) error {
	var orderID, productID int64
	err := d.pool.QueryRow(ctx, `SELECT o.id, i.product_id FROM orders o JOIN order_items i ON i.order_id = o.id AND i.line_no = 1
WHERE o.user_id = $1 ORDER BY o.id LIMIT 1`, showUser).Scan(&orderID, &productID)
	if err != nil {
		return fmt.Errorf("finding an order of user %d: %w", showUser, err)
	}
	rec := func(tb string, id any) map[string]any { return map[string]any{"tb": tb, "id": id} }
	cases := []showcase{
		{
			note:    "a row becomes a document; the primary key becomes the record id",
			display: fmt.Sprintf("SELECT * FROM users:%d", showUser),
			sql:     "SELECT * FROM type::record($tb, $id)", vars: rec("users", showUser),
		},
		{
			note:    "the foreign key user_id became a record link, user: users:42",
			display: fmt.Sprintf("SELECT * FROM orders:%d", orderID),
			sql:     "SELECT * FROM type::record($tb, $id)", vars: rec("orders", orderID),
		},
		{
			note:    "links are followed with a dot, no join needed",
			display: fmt.Sprintf("SELECT id, status, user.name AS customer, user.city AS city FROM orders:%d", orderID),
			sql:     "SELECT id, status, `user`.name AS customer, `user`.city AS city FROM type::record($tb, $id)", vars: rec("orders", orderID),
		},
		{
			note:    "a composite primary key becomes an array id; numeric stays an exact decimal",
			display: fmt.Sprintf("SELECT * FROM order_items:[%d, 1]", orderID),
			sql:     "SELECT * FROM type::record($tb, $id)", vars: rec("order_items", []any{orderID, 1}),
		},
		{
			note:    "jsonb becomes a nested object",
			display: fmt.Sprintf("SELECT * FROM products:%d", productID),
			sql:     "SELECT * FROM type::record($tb, $id)", vars: rec("products", productID),
		},
		{
			note:    "friendships, a pure join table, became graph edges: in and out are users",
			display: fmt.Sprintf("SELECT * FROM friendships WHERE in = users:%d", socialUser),
			sql:     "SELECT * FROM friendships WHERE in = type::record($tb, $id)", vars: rec("users", socialUser),
		},
		{
			note:    "so the social graph is traversed directly",
			display: fmt.Sprintf("SELECT name, ->friendships->users.name AS friends FROM users:%d", socialUser),
			sql:     "SELECT name, ->friendships->users.name AS friends FROM type::record($tb, $id)", vars: rec("users", socialUser),
		},
		{
			note:    "friends of friends, two hops",
			display: fmt.Sprintf("SELECT name, array::distinct(->friendships->users->friendships->users.name) AS friends_of_friends FROM users:%d", socialUser),
			sql:     "SELECT name, array::distinct(->friendships->users->friendships->users.name) AS friends_of_friends FROM type::record($tb, $id)", vars: rec("users", socialUser),
		},
		{
			note:    "orders.user_id is also configured as the edge placed (orders:N->placed->users:M)",
			display: fmt.Sprintf("SELECT name, <-placed<-orders AS orders FROM users:%d", socialUser),
			sql:     "SELECT name, <-placed<-orders AS orders FROM type::record($tb, $id)", vars: rec("users", socialUser),
		},
		{
			note:    "edges and links combine: the order statuses of each friend",
			display: fmt.Sprintf("SELECT ->friendships->users.{name, order_statuses: <-placed<-orders.status} AS friends FROM users:%d", socialUser),
			sql:     "SELECT ->friendships->users.{name, order_statuses: <-placed<-orders.status} AS friends FROM type::record($tb, $id)", vars: rec("users", socialUser),
		},
	}
	for _, c := range cases {
		if err := d.showOne(ctx, p, c); err != nil {
			return err
		}
	}
	return nil
}

func (d *session) showOne(ctx context.Context, p *printer, c showcase) error {
	p.note("%s", c.note)
	p.query(c.display)
	v, err := d.queryOne(ctx, c.sql, c.vars)
	if err != nil {
		return fmt.Errorf("SurrealDB query %s: %w", c.display, err)
	}
	p.value(v)
	return nil
}

// queryOne runs one SurrealQL statement and returns its result, unwrapped
// when it is a single record.
func (d *session) queryOne(ctx context.Context, sql string, vars map[string]any) (any, error) {
	res, err := surrealdb.Query[any](ctx, d.sur.DB, sql, vars)
	if err != nil {
		return nil, err
	}
	if len(*res) == 0 {
		return nil, nil
	}
	v := (*res)[len(*res)-1].Result
	if a, ok := v.([]any); ok && len(a) == 1 {
		return a[0], nil
	}
	return v, nil
}

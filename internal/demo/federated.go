package demo

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// reviewColumns are the demo reviews' fields as federated SQL sees them:
// the table is schemaless, so its columns are configured (in a real
// deployment: federation.tables).
var reviewColumns = []config.ReverseColumn{
	{Name: "author_id", Field: "author", Type: "bigint"},
	{Name: "product_id", Field: "product", Type: "bigint"},
	{Name: "rating", Type: "bigint"},
	{Name: "text", Type: "text"},
}

// federatedQueries are what the demo asks both databases at once.
var federatedQueries = []struct{ note, sql string }{
	{
		"each reviewer's lifetime spend (PostgreSQL) next to their reviews (SurrealDB), one SQL statement:",
		`SELECT u.name, sum(oi.qty * oi.unit_price) AS lifetime_spend, rv.reviews, rv.best
FROM users u
JOIN orders o ON o.user_id = u.id
JOIN order_items oi ON oi.order_id = o.id
JOIN (SELECT author_id, count(*) AS reviews, max(rating) AS best
      FROM surreal.review GROUP BY author_id) rv ON rv.author_id = u.id
GROUP BY u.name, rv.reviews, rv.best ORDER BY u.name`,
	},
	{
		fmt.Sprintf("a graph traversal in SurrealQL (user %d's friends), joined with PostgreSQL orders:", socialUser),
		fmt.Sprintf(`SELECT f.name AS friend, f.city, count(o.id) AS orders
FROM surreal.query('RETURN type::record("users", $id)->friendships->users', id => %d)
     AS t(friend_id bigint)
JOIN users f ON f.id = t.friend_id
LEFT JOIN orders o ON o.user_id = f.id
GROUP BY f.name, f.city ORDER BY f.name`, socialUser),
	},
}

// federated runs the demo's federated queries in-process, with the
// engine `pgsurreal serve` runs behind its wire protocol and HTTP API.
func (d *session) federated(ctx context.Context, p *printer, res *Result) error {
	pool, err := surreal.NewPool(ctx, d.o.demoSurreal(), d.o.Log)
	if err != nil {
		return err
	}
	defer pool.Close(context.WithoutCancel(ctx))
	fc := config.Default().Federation
	fc.Tables = []config.FederatedTable{{Name: reviewTable, Columns: reviewColumns}}
	e, err := federation.New(ctx, federation.Options{PG: d.pool, Surreal: pool, Config: fc, Slot: d.o.Slot, Log: d.o.Log})
	if err != nil {
		return err
	}
	defer e.Close()
	for i, q := range federatedQueries {
		p.note("%s", q.note)
		p.query(q.sql)
		began := time.Now()
		ans, err := e.Query(ctx, nil, q.sql, nil, federation.QueryOptions{})
		if err != nil {
			return fmt.Errorf("federated query %d: %w", i+1, err)
		}
		took := time.Since(began)
		cols := make([]string, len(ans.Columns))
		right := make([]bool, len(ans.Columns))
		for j, c := range ans.Columns {
			cols[j] = c.Name
			right[j] = c.Type == "int8" || c.Type == "int4" || c.Type == "numeric"
		}
		rows := rowsText(ans.Rows)
		p.table(cols, right, rows)
		res.Federated = append(res.Federated, rows)
		p.ok("answered in %s", ms(took))
	}
	p.note("EXPLAIN FEDERATED shows what each database was asked, with rows and times:")
	plan, err := e.Query(ctx, nil, "EXPLAIN FEDERATED "+federatedQueries[0].sql, nil, federation.QueryOptions{})
	if err != nil {
		return err
	}
	for _, l := range plan.Explain {
		if len(l) > 150 {
			l = l[:147] + "..."
		}
		p.line("  %s", l)
	}
	p.line("`pgsurreal serve` answers the same SQL over the PostgreSQL wire protocol (psql -h 127.0.0.1 -p 6543),")
	p.line("over HTTP (POST /v1/query) and with `pgsurreal query`; see docs/federation.md")
	return nil
}

// rowsText prints rows of a federated answer as psql would.
func rowsText(rows [][]any) [][]string {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		cells := make([]string, len(r))
		for j, v := range r {
			cells[j] = cellText(v)
		}
		out = append(out, cells)
	}
	return out
}

// cellText prints a value as psql would.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case driver.Valuer:
		if s, err := x.Value(); err == nil && s != nil {
			return fmt.Sprint(s)
		}
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

package main

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

const selectiveSQL = `SELECT c.name, f.b AS friend, r.product, r.rating
FROM customer c JOIN surreal.friend f ON f.a = c.id JOIN surreal.review r ON r.customer_id = f.b
WHERE c.id = $1 ORDER BY f.b, r.product, r.rating`

const reportSQL = `WITH spend AS (SELECT customer_id, count(*) AS orders, sum(total) AS revenue FROM orders GROUP BY customer_id),
     rv AS (SELECT customer_id, count(*) AS reviews, sum(rating) AS stars FROM surreal.review GROUP BY customer_id)
SELECT c.country, sum(s.orders) AS orders, sum(s.revenue) AS revenue, sum(rv.reviews) AS reviews,
       round(sum(rv.stars) / nullif(sum(rv.reviews), 0), 3) AS avg_rating
FROM customer c JOIN spend s ON s.customer_id = c.id LEFT JOIN rv ON rv.customer_id = c.id
GROUP BY c.country ORDER BY c.country`

type contenders struct {
	d       *dataset
	engine  *federation.Engine
	fed     *pgxpool.Pool
	copy    *pgxpool.Pool
	surreal *surreal.Pool
	rows    [][]any // the last result, for check
}

// customerFor picks run i's customer (the same sequence for everyone).
func (c *contenders) customerFor(i int) int64 {
	return int64(1 + (i*7919)%len(c.d.customers))
}

func (c *contenders) selectiveFederated(ctx context.Context, i int) error {
	res, err := c.engine.Query(ctx, nil, selectiveSQL, []any{c.customerFor(i)}, federation.QueryOptions{})
	if err != nil {
		return err
	}
	c.rows = res.Rows
	return nil
}

// selectiveSameCustomer repeats one customer: after the first run every
// SurrealDB read is a cache hit.
func (c *contenders) selectiveSameCustomer(ctx context.Context, _ int) error {
	return c.selectiveFederated(ctx, 0)
}

func (c *contenders) selectiveCopy(ctx context.Context, i int) error {
	return c.copyQuery(ctx, selectiveSQL, c.customerFor(i))
}

func (c *contenders) reportFederated(ctx context.Context, _ int) error {
	res, err := c.engine.Query(ctx, nil, reportSQL, nil, federation.QueryOptions{})
	if err != nil {
		return err
	}
	c.rows = res.Rows
	return nil
}

func (c *contenders) reportCopy(ctx context.Context, _ int) error { return c.copyQuery(ctx, reportSQL) }

func (c *contenders) copyQuery(ctx context.Context, sql string, args ...any) error {
	rows, err := c.copy.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	c.rows = nil
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return err
		}
		c.rows = append(c.rows, v)
	}
	return rows.Err()
}

// surrealAll reads a whole SurrealDB table.
func (c *contenders) surrealAll(ctx context.Context, sql string) ([]map[string]any, error) {
	res, err := surrealdb.Query[[]map[string]any](ctx, c.surreal.Get().DB, sql, nil)
	if err != nil {
		return nil, err
	}
	return (*res)[0].Result, nil
}

// selectiveAppMerge is what a service does without pgsurreal: read the
// customers, the friendships and the reviews whole, join in Go.
func (c *contenders) selectiveAppMerge(ctx context.Context, i int) error {
	id := c.customerFor(i)
	names := map[int64]string{}
	rows, err := c.fed.Query(ctx, "SELECT id, name FROM customer")
	if err != nil {
		return err
	}
	for rows.Next() {
		var k int64
		var n string
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		names[k] = n
	}
	rows.Close()
	friends, err := c.surrealAll(ctx, "SELECT a, b FROM friend")
	if err != nil {
		return err
	}
	reviews, err := c.surrealAll(ctx, "SELECT customer_id, product, rating FROM review")
	if err != nil {
		return err
	}
	byCustomer := map[int64][]map[string]any{}
	for _, r := range reviews {
		k := toInt(r["customer_id"])
		byCustomer[k] = append(byCustomer[k], r)
	}
	name, ok := names[id]
	c.rows = nil
	if !ok {
		return nil
	}
	for _, f := range friends {
		if toInt(f["a"]) != id {
			continue
		}
		b := toInt(f["b"])
		for _, r := range byCustomer[b] {
			c.rows = append(c.rows, []any{name, b, r["product"], toInt(r["rating"])})
		}
	}
	slices.SortFunc(c.rows, func(x, y []any) int {
		return cmp.Or(cmp.Compare(x[1].(int64), y[1].(int64)), cmp.Compare(x[2].(string), y[2].(string)), cmp.Compare(x[3].(int64), y[3].(int64)))
	})
	return nil
}

// reportAppMerge reads customers, orders and reviews whole and
// aggregates in Go (exact money sums in cents).
func (c *contenders) reportAppMerge(ctx context.Context, _ int) error {
	country := map[int64]string{}
	rows, err := c.fed.Query(ctx, "SELECT id, country FROM customer")
	if err != nil {
		return err
	}
	for rows.Next() {
		var k int64
		var s string
		if err := rows.Scan(&k, &s); err != nil {
			return err
		}
		country[k] = s
	}
	rows.Close()
	type agg struct {
		orders, cents, reviews, stars int64
	}
	by := map[string]*agg{}
	get := func(k string) *agg {
		if by[k] == nil {
			by[k] = &agg{}
		}
		return by[k]
	}
	rows, err = c.fed.Query(ctx, "SELECT customer_id, (total * 100)::int8 FROM orders")
	if err != nil {
		return err
	}
	hasOrders := map[int64]bool{}
	for rows.Next() {
		var k, cents int64
		if err := rows.Scan(&k, &cents); err != nil {
			return err
		}
		a := get(country[k])
		a.orders++
		a.cents += cents
		hasOrders[k] = true
	}
	rows.Close()
	reviews, err := c.surrealAll(ctx, "SELECT customer_id, rating FROM review")
	if err != nil {
		return err
	}
	for _, r := range reviews {
		k := toInt(r["customer_id"])
		if !hasOrders[k] {
			continue // the SQL joins reviews to customers with orders
		}
		a := get(country[k])
		a.reviews++
		a.stars += toInt(r["rating"])
	}
	c.rows = nil
	for _, k := range slices.Sorted(mapsKeys(by)) {
		a := by[k]
		avg := new(big.Rat).SetFrac64(a.stars, max(a.reviews, 1)).FloatString(3)
		c.rows = append(c.rows, []any{k, a.orders, fmt.Sprintf("%d.%02d", a.cents/100, a.cents%100), a.reviews, avg})
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case uint64:
		return int64(x)
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

// check makes sure the contenders agree before anything is timed.
func (c *contenders) check(ctx context.Context) error {
	for i := range 5 {
		if err := c.selectiveFederated(ctx, i); err != nil {
			return fmt.Errorf("selective query: %w", err)
		}
		fed := fmt.Sprint(c.rows)
		if err := c.selectiveCopy(ctx, i); err != nil {
			return err
		}
		if cp := fmt.Sprint(c.rows); cp != fed {
			return fmt.Errorf("selective query for customer %d: pgsurreal and the all-PostgreSQL copy differ:\n%s\n%s", c.customerFor(i), fed, cp)
		}
		if err := c.selectiveAppMerge(ctx, i); err != nil {
			return err
		}
		if app := fmt.Sprint(c.rows); app != fed {
			return fmt.Errorf("selective query for customer %d: pgsurreal and the app merge differ:\n%s\n%s", c.customerFor(i), fed, app)
		}
	}
	if err := c.reportFederated(ctx, 0); err != nil {
		return fmt.Errorf("report query: %w", err)
	}
	fed := c.rows
	if err := c.reportCopy(ctx, 0); err != nil {
		return err
	}
	if fmt.Sprint(fed) != fmt.Sprint(c.rows) {
		return fmt.Errorf("report query: pgsurreal and the all-PostgreSQL copy differ:\n%v\n%v", fed, c.rows)
	}
	if err := c.reportAppMerge(ctx, 0); err != nil {
		return err
	}
	if len(c.rows) != len(fed) {
		return fmt.Errorf("report query: the app merge has %d countries, pgsurreal %d", len(c.rows), len(fed))
	}
	fmt.Printf("checked: the three contenders agree (5 selective queries, the report: %d countries)\n", len(fed))
	return nil
}

// latency is one contender's figures.
type latency struct {
	Runs  int     `json:"runs"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

// measure runs fn runs times (after one warm-up run) and reports p50/p99.
func (c *contenders) measure(ctx context.Context, name string, runs int, fn func(context.Context, int) error) latency {
	if err := fn(ctx, runs); err != nil {
		fmt.Printf("  %-24s failed: %v\n", name, err)
		return latency{}
	}
	ms := make([]float64, 0, runs)
	for i := range runs {
		t := time.Now()
		if err := fn(ctx, i); err != nil {
			fmt.Printf("  %-24s failed: %v\n", name, err)
			return latency{}
		}
		ms = append(ms, float64(time.Since(t).Microseconds())/1000)
	}
	l := latency{Runs: runs, P50ms: harness.Round(harness.Median(ms), 3), P99ms: harness.Round(harness.Percentile(ms, 99), 3)}
	fmt.Printf("  %-24s p50 %9.3f ms   p99 %9.3f ms   (%d runs)\n", name, l.P50ms, l.P99ms, runs)
	return l
}

// surrealRoundTrip is the floor of any SurrealDB read: RETURN 1.
func (c *contenders) surrealRoundTrip(ctx context.Context, _ int) error {
	_, err := surrealdb.Query[any](ctx, c.surreal.Get().DB, "RETURN 1", nil)
	return err
}

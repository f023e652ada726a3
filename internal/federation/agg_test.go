package federation

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// TestAggregatePushdown: whole aggregates over one SurrealDB table are
// computed by SurrealDB and still give PostgreSQL's answers, NULL and
// empty-input rules included (the same rows in a PostgreSQL table in
// schema surreal are the reference).
func TestAggregatePushdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config.Default().Federation)
	f.surrealExec(t, `DEFINE TABLE r SCHEMAFULL; DEFINE FIELD k ON r TYPE option<int>; DEFINE FIELD v ON r TYPE option<int>; DEFINE FIELD s ON r TYPE option<string>;
CREATE r:1 SET k = 1, v = 5, s = 'a'; CREATE r:2 SET k = 1, v = 0, s = 'b'; CREATE r:3 SET k = 1, s = 'a'; CREATE r:4 SET k = 2;
CREATE r:5 SET v = 7; CREATE r:6 SET k = 3, v = -2, s = 'Ω';`, nil)
	ref := newFixture(t, config.Default().Federation)
	ref.pgExec(t, `CREATE SCHEMA surreal; CREATE TABLE surreal.r (id text, k bigint, s text, v bigint);
INSERT INTO surreal.r VALUES ('1', 1, 'a', 5), ('2', 1, 'b', 0), ('3', 1, 'a', NULL), ('4', 2, NULL, NULL), ('5', NULL, NULL, 7), ('6', 3, 'Ω', -2);`)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT k, count(*), count(v), sum(v), min(v) AS lo, max(v) FROM surreal.r GROUP BY k ORDER BY k",
		"SELECT s, count(*) AS n FROM surreal.r GROUP BY s ORDER BY n DESC, s",
		"SELECT count(*), sum(v), min(v), max(v) FROM surreal.r WHERE k = 99",
		"SELECT count(*), sum(v) FROM surreal.r",
		"SELECT x.k, x.total FROM (SELECT k, sum(v) AS total FROM surreal.r WHERE k >= 2 GROUP BY k) x ORDER BY 1",
		"SELECT k, count(s) FROM surreal.r WHERE s = 'a' GROUP BY k ORDER BY 2 LIMIT 1",
	} {
		want, err := collect(ctx, ref.pg, q, nil)
		if err != nil {
			t.Fatalf("reference %s: %v", q, err)
		}
		got, err := f.engine.Query(ctx, nil, q, nil, QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !reflect.DeepEqual(got.Columns, want.Columns) || fmt.Sprint(got.Rows) != fmt.Sprint(want.Rows) {
			t.Errorf("%s:\n got %v %v\nwant %v %v", q, got.Columns, got.Rows, want.Columns, want.Rows)
		}
		if plan := explainOf(t, f, "EXPLAIN FEDERATED "+q); !strings.Contains(plan, "SurrealDB (aggregate)") {
			t.Errorf("%s: the aggregate was not pushed:\n%s", q, plan)
		}
	}
	// Not pushable: HAVING, DISTINCT aggregates, avg, string min.
	for _, q := range []string{
		"SELECT k FROM surreal.r GROUP BY k HAVING count(*) > 1",
		"SELECT count(DISTINCT v) FROM surreal.r",
		"SELECT avg(v) FROM surreal.r",
		"SELECT min(s) FROM surreal.r",
	} {
		if plan := explainOf(t, f, "EXPLAIN FEDERATED "+q); strings.Contains(plan, "SurrealDB (aggregate)") {
			t.Errorf("%s: pushed, but it must be computed by PostgreSQL:\n%s", q, plan)
		}
	}
}

package federation

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// TestMetricsAndSlowLog: queries are counted by route and outcome,
// SurrealDB rows and pushdowns are counted, and a query over the
// slow-query threshold is logged with its steps.
func TestMetricsAndSlowLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t, config.Default().Federation)
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	fc := config.Default().Federation
	fc.SlowQuery.Duration = 1 // every federated query is "slow"
	e, err := New(context.Background(), Options{PG: f.pg, Surreal: f.engine.o.Surreal, Config: fc, Registerer: reg,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.surrealExec(t, `DEFINE TABLE review SCHEMAFULL; DEFINE FIELD rating ON review TYPE int;
CREATE review:1 SET rating = 5; CREATE review:2 SET rating = 3; CREATE review:3 SET rating = 4;`, nil)
	ctx := context.Background()
	if _, err := e.Query(ctx, nil, "SELECT 1", nil, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Query(ctx, nil, "SELECT id FROM surreal.review WHERE rating >= $1 ORDER BY id", []any{int64(4)}, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 {
		t.Fatalf("rows = %v, want review 1 and 3", res.Rows)
	}
	if _, err := e.Query(ctx, nil, "SELECT nope FROM surreal.review", nil, QueryOptions{}); err == nil {
		t.Fatal("an unknown column was accepted")
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"passthrough ok", testutil.ToFloat64(e.metrics.queries.WithLabelValues("passthrough", "ok")), 1},
		{"federated ok", testutil.ToFloat64(e.metrics.queries.WithLabelValues("federated", "ok")), 1},
		{"federated error", testutil.ToFloat64(e.metrics.queries.WithLabelValues("federated", "error")), 1},
		{"surreal rows", testutil.ToFloat64(e.metrics.surrealRows), 2 + 3},
		{"predicate pushdowns", testutil.ToFloat64(e.metrics.pushdown.WithLabelValues("predicate")), 1},
		{"slow queries", testutil.ToFloat64(e.metrics.slow), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "pgsurreal_federation_query_seconds"); n != 2 {
		t.Errorf("latency histograms = %d, want one per route", n)
	}
	if !strings.Contains(logs.String(), "slow federated query") || !strings.Contains(logs.String(), "SurrealDB: 2 rows") {
		t.Errorf("slow query log = %q", logs.String())
	}
}

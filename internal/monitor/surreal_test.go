package monitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/monitor"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

const hostile = "we`ird ta\\ble"

// newSurrealPool is a pool on a fresh namespace, with the tables item
// (3 records) and a table with a hostile name (1 record).
func newSurrealPool(t *testing.T) *surreal.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, cl := testenv.Get(t).NewSurrealClient(t)
	if _, err := surrealdb.Query[any](ctx, cl.DB, "CREATE item:1; CREATE item:2; CREATE item:3; CREATE "+surreal.Ident(hostile)+":1", nil); err != nil {
		t.Fatal(err)
	}
	sp, err := surreal.NewPool(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })
	return sp
}

// TestSurrealCollector: up, probe latency and record counts (a missing
// table counts 0, a hostile name is passed as a parameter), refreshed
// in the background as records are added.
func TestSurrealCollector(t *testing.T) {
	t.Parallel()
	sp := newSurrealPool(t)
	reg := prometheus.NewRegistry()
	err := monitor.Register(reg, monitor.Options{Surreal: sp, Tables: []string{"item", "missing", hostile},
		RecordsEvery: 100 * time.Millisecond, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]float64
	want := func(items float64) func() bool {
		return func() bool {
			s = scrape(t, reg)
			return s["pgsurreal_surreal_up"] == 1 && s["pgsurreal_surreal_query_seconds"] > 0 &&
				s["pgsurreal_surreal_records{table=item}"] == items && s["pgsurreal_surreal_records{table="+hostile+"}"] == 1 &&
				has(s, "pgsurreal_surreal_records{table=missing}") && s["pgsurreal_surreal_records{table=missing}"] == 0
		}
	}
	show := func() string { return dump(s, "pgsurreal_surreal") }
	waitFor(t, 20*time.Second, show, want(3))
	if _, err := surrealdb.Query[any](context.Background(), sp.Get().DB, "CREATE item:4; CREATE item:5", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, show, want(5))
}

// TestSurrealRecordsCached: with the default interval the counts are
// not read again at every scrape.
func TestSurrealRecordsCached(t *testing.T) {
	t.Parallel()
	sp := newSurrealPool(t)
	reg := prometheus.NewRegistry()
	if err := monitor.Register(reg, monitor.Options{Surreal: sp, Tables: []string{"item"}, Log: testLog()}); err != nil {
		t.Fatal(err)
	}
	var s map[string]float64
	waitFor(t, 20*time.Second, func() string { return dump(s, "pgsurreal_surreal") }, func() bool {
		s = scrape(t, reg)
		return s["pgsurreal_surreal_records{table=item}"] == 3
	})
	if _, err := surrealdb.Query[any](context.Background(), sp.Get().DB, "CREATE item:4", nil); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if s = scrape(t, reg); s["pgsurreal_surreal_records{table=item}"] != 3 {
			t.Fatalf("records counted again within 30s: %v", s["pgsurreal_surreal_records{table=item}"])
		}
	}
}

func has(s map[string]float64, k string) bool {
	_, ok := s[k]
	return ok
}

package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/monitor"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// ready runs r and returns its outcome with the checks as served.
func ready(t *testing.T, r *monitor.Readiness) (bool, map[string]monitor.Check, string) {
	t.Helper()
	ok, detail := r.Ready(context.Background())
	checks, isMap := detail.(map[string]monitor.Check)
	if !isMap {
		t.Fatalf("detail is a %T", detail)
	}
	js, err := json.Marshal(detail)
	if err != nil {
		t.Fatal(err)
	}
	return ok, checks, string(js)
}

// TestReadinessDirections: a direction that is not running, or lags more
// than the threshold, is not ready, and says what to do.
func TestReadinessDirections(t *testing.T) {
	t.Parallel()
	running := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgsurreal_sync_running"})
	lag := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pgsurreal_sync_lag_seconds"})
	r := monitor.NewReadiness(monitor.ReadinessOptions{Sync: &monitor.Direction{Running: running, Lag: lag}, LagThreshold: time.Minute})
	tests := []struct {
		name           string
		running, lag   float64
		ok             bool
		failing, fixed string
	}{
		{"stopped", 0, 0, false, "sync", "log of pgsurreal serve"},
		{"running", 1, 2, true, "", ""},
		{"lagging", 1, 75, false, "sync_lag", "alerts.lag_threshold"},
	}
	for _, tc := range tests {
		running.Set(tc.running)
		lag.Set(tc.lag)
		ok, checks, js := ready(t, r)
		if ok != tc.ok || len(checks) != 2 {
			t.Errorf("%s: ready = %v, want %v: %s", tc.name, ok, tc.ok, js)
			continue
		}
		if tc.failing != "" && (checks[tc.failing].OK || !strings.Contains(checks[tc.failing].Detail, tc.fixed)) {
			t.Errorf("%s: check %s should fail naming %q: %s", tc.name, tc.failing, tc.fixed, js)
		}
	}
}

// TestReadinessPostgresRestart runs sync against a PostgreSQL cluster of
// the test's own: ready; not ready (PostgreSQL unreachable, sync not
// running, pgsurreal_postgres_up 0) while the cluster is stopped; ready
// again once it is back and sync has reconnected; not ready once sync
// stops.
func TestReadinessPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	ctx := context.Background()
	pgcfg, stack := testenv.PrivateCluster(t)
	pool, err := postgres.Connect(ctx, pgcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE item (id int PRIMARY KEY, name text); INSERT INTO item VALUES (1, 'a'), (2, 'b')`); err != nil {
		t.Fatal(err)
	}
	surcfg := testenv.Get(t).NewSurreal(t)
	sp, err := surreal.NewPool(ctx, surcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })

	reg := prometheus.NewRegistry()
	sm := pgsync.NewMetrics(reg)
	if err := monitor.Register(reg, monitor.Options{PG: pool, Surreal: sp, Tables: []string{"item"}, RecordsEvery: 200 * time.Millisecond, Log: testLog()}); err != nil {
		t.Fatal(err)
	}
	sc := config.Default().Sync
	sc.Slot = "monitor"
	sc.Heartbeat.Duration = 100 * time.Millisecond
	sc.StatusInterval.Duration = 100 * time.Millisecond
	sctx, stopSync := context.WithCancel(ctx)
	defer stopSync()
	syncDone := make(chan error, 1)
	go func() {
		syncDone <- pgsync.Run(sctx, pgsync.Options{Postgres: pgcfg, Surreal: surcfg, Sync: sc, Metrics: sm, Log: testLog()})
	}()

	r := monitor.NewReadiness(monitor.ReadinessOptions{PG: pool, Postgres: pgcfg, Surreal: sp, SurrealConfig: surcfg,
		Sync: &monitor.Direction{Running: sm.Running, Lag: sm.LagSeconds}, LagThreshold: time.Minute})
	var js string
	var checks map[string]monitor.Check
	var ok bool
	isReady := func() bool {
		select {
		case err := <-syncDone:
			t.Fatalf("sync stopped: %v", err)
		default:
		}
		ok, checks, js = ready(t, r)
		return ok
	}
	show := func() string { return js }
	waitFor(t, 60*time.Second, show, isReady)
	for _, c := range []string{"postgres", "surreal", "sync", "sync_lag"} {
		if _, found := checks[c]; !found {
			t.Errorf("check %s missing: %s", c, js)
		}
	}
	var s map[string]float64
	waitFor(t, 20*time.Second, func() string { return dump(s, "pgsurreal_") }, func() bool {
		s = scrape(t, reg)
		return s["pgsurreal_postgres_up"] == 1 && s["pgsurreal_surreal_up"] == 1 && s["pgsurreal_sync_running"] == 1 &&
			s["pgsurreal_postgres_slot_active{slot=monitor}"] == 1 && s["pgsurreal_surreal_records{table=item}"] == 2
	})

	if err := devstack.Down(ctx, stack); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, show, func() bool {
		ok, checks, js = ready(t, r)
		return !ok && !checks["postgres"].OK && !checks["sync"].OK && checks["surreal"].OK
	})
	where := fmt.Sprintf("127.0.0.1:%d", pgcfg.Port)
	if d := checks["postgres"].Detail; !strings.Contains(d, where) || !strings.Contains(d, "postgres.host") {
		t.Errorf("the postgres check should name %s and the fix: %q", where, d)
	}
	if strings.Contains(strings.ToLower(js), "password=") {
		t.Errorf("the detail shows a password: %s", js)
	}
	s = scrape(t, reg)
	if s["pgsurreal_postgres_up"] != 0 || s["pgsurreal_sync_running"] != 0 || s["pgsurreal_surreal_up"] != 1 {
		t.Errorf("while PostgreSQL is down:\n%s", dump(s, "pgsurreal_"))
	}
	t.Logf("not ready: %s", js)

	if _, err := devstack.Up(ctx, stack); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, show, isReady)

	stopSync()
	if err := <-syncDone; err != nil {
		t.Fatalf("sync: %v", err)
	}
	ok, checks, js = ready(t, r)
	if ok || checks["sync"].OK || !checks["postgres"].OK {
		t.Fatalf("after sync stopped: %s", js)
	}
}

// TestReadinessSurrealDown: SurrealDB unreachable (behind a proxy that
// stops) is not ready, naming the server, while PostgreSQL stays ready.
func TestReadinessSurrealDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Get(t)
	pgcfg, pool := env.NewPostgresPool(t)
	surcfg := env.NewSurreal(t)
	proxy, proxied := testenv.NewProxy(t, surcfg.URL)
	surcfg.URL = proxied
	sp, err := surreal.NewPool(ctx, surcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close(context.Background()) })
	reg := prometheus.NewRegistry()
	if err := monitor.Register(reg, monitor.Options{PG: pool, Surreal: sp, Log: testLog()}); err != nil {
		t.Fatal(err)
	}
	r := monitor.NewReadiness(monitor.ReadinessOptions{PG: pool, Postgres: pgcfg, Surreal: sp, SurrealConfig: surcfg})
	ok, _, js := ready(t, r)
	if !ok {
		t.Fatalf("not ready with both databases up: %s", js)
	}
	proxy.Stop()
	var checks map[string]monitor.Check
	waitFor(t, 30*time.Second, func() string { return js }, func() bool {
		ok, checks, js = ready(t, r)
		return !ok && !checks["surreal"].OK && checks["postgres"].OK
	})
	u, _ := url.Parse(proxied)
	if d := checks["surreal"].Detail; !strings.Contains(d, u.Host) || !strings.Contains(d, "surreal.url") {
		t.Errorf("the surreal check should name %s and the fix: %q", u.Host, d)
	}
	t.Logf("not ready: %s", js)
	s := scrape(t, reg)
	if s["pgsurreal_surreal_up"] != 0 || s["pgsurreal_postgres_up"] != 1 {
		t.Errorf("with SurrealDB unreachable:\n%s", dump(s, "pgsurreal_"))
	}
}

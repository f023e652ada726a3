package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/dashboard"
	"github.com/pgsurreal/pgsurreal/internal/maintenance"
	"github.com/pgsurreal/pgsurreal/internal/reverse"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

// metrics is a registry holding the daemon's own metric vectors, built by
// the packages' constructors, with values set by the test.
type metrics struct {
	reg     *prometheus.Registry
	sync    *pgsync.Metrics
	reverse *reverse.Metrics
	tx      *txn.Metrics
	// latency and queries have federation's definitions (its metrics are
	// unexported, built by federation.New).
	latency *prometheus.HistogramVec
	queries *prometheus.CounterVec
}

// newMetrics registers sync's metrics, and the others when all is set.
func newMetrics(all bool) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.sync = pgsync.NewMetrics(m.reg)
	m.sync.LagSeconds.Set(0.25)
	m.sync.Changes.WithLabelValues("public.orders", "insert").Add(10)
	m.sync.Changes.WithLabelValues("public.orders", "update").Add(5)
	m.sync.Changes.WithLabelValues("public.users", "insert").Add(3)
	m.sync.Errors.WithLabelValues("retryable").Add(2)
	m.sync.SlotRetainedWAL.Set(3 << 20)
	if !all {
		return m
	}
	m.reverse = reverse.NewMetrics(m.reg)
	m.reverse.LagSeconds.Set(1.5)
	m.reverse.Changes.WithLabelValues("review", "create").Add(7)
	m.reverse.Changes.WithLabelValues("users", "update").Add(4)
	m.reverse.Conflicts.WithLabelValues("users", "postgres").Inc()
	m.tx = txn.NewMetrics(m.reg)
	m.tx.Committed.Add(9)
	m.tx.Aborted.Add(1)
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pgsurreal_federation_query_seconds",
		Help: "Query latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	m.queries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgsurreal_federation_queries_total",
		Help: "Queries answered, by route and outcome."}, []string{"route", "outcome"})
	m.reg.MustRegister(m.latency, m.queries)
	m.latency.WithLabelValues("federated").Observe(0.003)
	m.latency.WithLabelValues("federated").Observe(0.02)
	m.latency.WithLabelValues("passthrough").Observe(0.0007)
	m.queries.WithLabelValues("federated", "ok").Add(2)
	m.queries.WithLabelValues("federated", "error").Add(1)
	return m
}

// data is data.json as a client reads it.
type data struct {
	Time       time.Time          `json:"time"`
	Values     map[string]float64 `json:"values"`
	Histograms map[string]struct {
		Count   float64 `json:"count"`
		Sum     float64 `json:"sum"`
		Buckets []struct {
			LE    float64 `json:"le"`
			Count float64 `json:"count"`
		} `json:"buckets"`
	} `json:"histograms"`
	Status []struct{ Name, Value, State, Detail string } `json:"status"`
	Tables struct {
		Configured bool   `json:"configured"`
		Error      string `json:"error"`
		Rows       []struct {
			Table, Surreal, Direction string
			PostgresRows              int64   `json:"postgres_rows"`
			SurrealRecords            int64   `json:"surreal_records"`
			Changes                   float64 `json:"changes"`
		} `json:"rows"`
	} `json:"tables"`
	Problems []struct {
		What, Detail string
		Total        float64
		LastIncrease time.Time `json:"last_increase"`
	} `json:"problems"`
	Alerts      *dashboard.AlertStatus `json:"alerts"`
	Maintenance []struct {
		Name    string
		Missing bool
		Last    *maintenance.Run
	} `json:"maintenance"`
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func getData(t *testing.T, h http.Handler) data {
	t.Helper()
	resp, body := get(t, h, "/ui/data.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("data.json: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var d data
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("data.json: %v: %s", err, body)
	}
	return d
}

type maint struct{ st maintenance.Status }

func (m maint) Status() maintenance.Status { return m.st }

// sources are the optional sources, filled.
func sources(o dashboard.Options) dashboard.Options {
	end := time.Now().Add(-3 * time.Minute)
	o.Maintenance = maint{maintenance.Status{Jobs: []maintenance.JobStatus{{
		Name: maintenance.JobVerify, Schedule: "@hourly", Next: time.Now().Add(40 * time.Minute),
		Runs: []maintenance.Run{{Trigger: maintenance.TriggerSchedule, Start: end.Add(-2 * time.Second), End: end, DurationSeconds: 2, OK: true,
			Outcome: maintenance.Outcome{Summary: "3 tables, 0 differences", Differences: map[string]int64{"public.orders": 0}}}},
	}}}}
	o.Alerts = dashboard.AlertFunc(func() dashboard.AlertStatus {
		return dashboard.AlertStatus{
			Active: []dashboard.Alert{{Name: "SyncLagHigh", Severity: "critical", Summary: "sync lag 42 s > 30 s", Since: time.Now().Add(-time.Minute)}},
			Recent: []dashboard.AlertEvent{{Time: time.Now().Add(-time.Minute), Name: "SyncLagHigh", State: dashboard.StateFiring, Summary: "sync lag 42 s > 30 s"}},
		}
	})
	o.Tables = func(context.Context) ([]dashboard.TableCount, error) {
		return []dashboard.TableCount{
			{Table: "public.orders", Surreal: "orders", Direction: dashboard.Forward, PostgresRows: 1200, SurrealRecords: 1199, State: "streaming"},
			{Table: "public.review", Surreal: "review", Direction: dashboard.Reverse, PostgresRows: 40, SurrealRecords: 40},
			{Table: "public.users", Surreal: "users", Direction: dashboard.TwoWay, PostgresRows: 5, SurrealRecords: dashboard.Unknown},
			{Table: `public."<script>alert(1)</script>"`, Surreal: "x", Direction: dashboard.Forward, PostgresRows: 0, SurrealRecords: 0},
		}, nil
	}
	return o
}

// TestDataWithoutSources: with only the registry, data.json has the
// charts' metrics the daemon exports (and no others) and says which
// panels have no source.
func TestDataWithoutSources(t *testing.T) {
	t.Parallel()
	m := newMetrics(false)
	d := getData(t, dashboard.New(dashboard.Options{Gatherer: m.reg}))
	if d.Values["pgsurreal_sync_lag_seconds"] != 0.25 || d.Values["pgsurreal_sync_changes_total"] != 18 {
		t.Errorf("values: %v, want sync lag 0.25 and 18 changes (summed over tables and operations)", d.Values)
	}
	for _, absent := range []string{"pgsurreal_reverse_lag_seconds", "pgsurreal_reverse_changes_total", "pgsurreal_tx_committed_total"} {
		if _, ok := d.Values[absent]; ok {
			t.Errorf("values has %s, which the daemon does not export", absent)
		}
	}
	if len(d.Histograms) != 0 {
		t.Errorf("histograms: %v, want none", d.Histograms)
	}
	if d.Alerts != nil || d.Maintenance != nil || d.Tables.Configured {
		t.Errorf("alerts %v, maintenance %v, tables configured %v: want no sources", d.Alerts, d.Maintenance, d.Tables.Configured)
	}
	status := map[string]string{}
	for _, s := range d.Status {
		status[s.Name] = s.Value + "/" + s.State
	}
	// The sync tile is on (or stopped, once sync exports
	// pgsurreal_sync_running: the pipeline is not running here).
	if status["PostgreSQL → SurrealDB"] == "off/off" || status["SurrealDB → PostgreSQL"] != "off/off" || status["SurrealDB"] != "—/off" || status["Slot retained WAL"] != "3.0 MiB/ok" {
		t.Errorf("status tiles: %v", status)
	}
	if len(d.Problems) != 1 || d.Problems[0].What != "Sync errors (PostgreSQL → SurrealDB)" || d.Problems[0].Detail != "retryable" || d.Problems[0].Total != 2 {
		t.Errorf("problems: %+v, want the 2 retryable sync errors", d.Problems)
	}
	if time.Since(d.Time) > time.Minute {
		t.Errorf("time %v", d.Time)
	}
}

// TestDataWithSources: every chart metric, the histogram summed over its
// routes, the tables joined with their change counters, problems, alerts
// and maintenance.
func TestDataWithSources(t *testing.T) {
	t.Parallel()
	m := newMetrics(true)
	d := getData(t, dashboard.New(sources(dashboard.Options{Gatherer: m.reg})))
	want := map[string]float64{
		"pgsurreal_sync_lag_seconds": 0.25, "pgsurreal_reverse_lag_seconds": 1.5,
		"pgsurreal_sync_changes_total": 18, "pgsurreal_reverse_changes_total": 11,
		"pgsurreal_tx_committed_total": 9, "pgsurreal_tx_aborted_total": 1,
	}
	for k, v := range want {
		if got, ok := d.Values[k]; !ok || got != v {
			t.Errorf("values[%s] = %v (present %v), want %v", k, got, ok, v)
		}
	}
	h, ok := d.Histograms["pgsurreal_federation_query_seconds"]
	if !ok || h.Count != 3 || len(h.Buckets) != 16 {
		t.Fatalf("latency histogram: %+v, want 3 observations in 16 buckets", h)
	}
	// Cumulative: 0.0007 is under le=0.001, 0.003 under 0.004, 0.02 under 0.032.
	at := map[float64]float64{}
	for _, b := range h.Buckets {
		at[b.LE] = b.Count
	}
	if at[0.0005] != 0 || at[0.001] != 1 || at[0.004] != 2 || at[0.032] != 3 || at[0.128] != 3 {
		t.Errorf("buckets: %v", at)
	}
	if !d.Tables.Configured || len(d.Tables.Rows) != 4 {
		t.Fatalf("tables: %+v", d.Tables)
	}
	changes := map[string]float64{}
	for _, r := range d.Tables.Rows {
		changes[r.Table] = r.Changes
	}
	// orders: forward only (15); review: reverse only (7); users: two-way,
	// sync's 3 plus reverse's 4.
	if changes["public.orders"] != 15 || changes["public.review"] != 7 || changes["public.users"] != 7 {
		t.Errorf("changes per table: %v", changes)
	}
	if d.Tables.Rows[2].SurrealRecords != dashboard.Unknown {
		t.Errorf("unknown count: %+v", d.Tables.Rows[2])
	}
	what := map[string]float64{}
	for _, p := range d.Problems {
		what[p.What+" "+p.Detail] = p.Total
	}
	if what["Two-way conflicts users, postgres won"] != 1 || what["Failed queries federated"] != 1 || what["Sync errors (PostgreSQL → SurrealDB) retryable"] != 2 || len(what) != 3 {
		t.Errorf("problems: %v", what)
	}
	if d.Alerts == nil || len(d.Alerts.Active) != 1 || len(d.Alerts.Recent) != 1 {
		t.Errorf("alerts: %+v", d.Alerts)
	}
	if len(d.Maintenance) != 2 || d.Maintenance[0].Name != "verify" || d.Maintenance[0].Last == nil || !d.Maintenance[0].Last.OK ||
		d.Maintenance[1].Name != "backup" || !d.Maintenance[1].Missing {
		t.Errorf("maintenance: %+v", d.Maintenance)
	}
}

// TestPage: the page renders every chart with the data attributes the
// script and the browser test read, the empty states, and the panels,
// escaping what the sources say; it is served with a strict CSP.
func TestPage(t *testing.T) {
	t.Parallel()
	m := newMetrics(true)
	h := dashboard.New(sources(dashboard.Options{Gatherer: m.reg, Version: "pgsurreal test"}))
	resp, body := get(t, h, "/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`data-chart="lag"`, `data-chart="throughput"`, `data-chart="latency"`, `data-chart="transactions"`,
		`data-series="lag_forward"`, `data-series="lag_reverse"`, `data-series="throughput_forward"`, `data-series="throughput_reverse"`,
		`data-series="latency_p50"`, `data-series="latency_p99"`, `data-series="tx_committed"`, `data-series="tx_aborted"`,
		`data-kind="rate" data-metric="pgsurreal_sync_changes_total"`, `data-q="0.99"`, `data-points="0"`,
		`No data yet`, `data-poll-ms="2000"`, `data-window-s="600"`, `src="/ui/assets/dashboard.js?v=`, `href="/ui/assets/dashboard.css?v=`,
		`data-table="public.orders"`, `1,200`, `1,199`, `<span class="diff"`, `→ PostgreSQL`, `⇄ both ways`,
		`SyncLagHigh`, `sync lag 42 s &gt; 30 s`, `3 tables, 0 differences`, `data-job="backup"`, `not scheduled`,
		`Two-way conflicts`, `pgsurreal test`, `data-panel="status"`, `data-panel="tables"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("a table name was not escaped")
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, " on") && strings.Contains(body, "onclick") {
		t.Error("the page has inline script or style")
	}
}

// TestPageWithoutSources: each panel without a source says so.
func TestPageWithoutSources(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var sched *maintenance.Scheduler // serve without scheduled jobs
	_, body := get(t, dashboard.New(dashboard.Options{Gatherer: reg, Maintenance: sched}), "/")
	for _, want := range []string{
		"Per-table counts are not available", "Alert evaluation is not running", "Scheduled maintenance is not running",
		"No errors or conflicts", "No data yet", "not configured",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	resp, panels := get(t, dashboard.New(dashboard.Options{Gatherer: reg}), "/ui/panels")
	if resp.StatusCode != http.StatusOK || strings.Contains(panels, "<html") || strings.Count(panels, "data-panel=") != 5 {
		t.Errorf("/ui/panels: %d, %d panels: %s", resp.StatusCode, strings.Count(panels, "data-panel="), panels)
	}
}

// TestNotFinite: a gauge at NaN or infinity is left out rather than
// breaking data.json (JSON has no such numbers).
func TestNotFinite(t *testing.T) {
	t.Parallel()
	m := newMetrics(false)
	m.sync.LagSeconds.Set(math.NaN())
	m.sync.SlotRetainedWAL.Set(math.Inf(1))
	d := getData(t, dashboard.New(dashboard.Options{Gatherer: m.reg}))
	if _, ok := d.Values["pgsurreal_sync_lag_seconds"]; ok {
		t.Errorf("values: %v, want no NaN lag", d.Values)
	}
	if _, body := get(t, dashboard.New(dashboard.Options{Gatherer: m.reg}), "/"); !strings.Contains(body, "Slot retained WAL") {
		t.Error("the page did not render")
	}
}

// TestStatusTiles: the tiles read the monitor's and the engines' gauges.
func TestStatusTiles(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	gauge := func(name string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name})
		reg.MustRegister(g)
		g.Set(v)
	}
	gauge("pgsurreal_postgres_up", 1)
	gauge("pgsurreal_surreal_up", 0)
	gauge("pgsurreal_sync_running", 1)
	gauge("pgsurreal_sync_lag_seconds", 0.012)
	gauge("pgsurreal_reverse_running", 0)
	gauge("pgsurreal_tx_in_doubt", 2)
	gauge("pgsurreal_tx_oldest_in_doubt_seconds", 90)
	drift := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgsurreal_verify_differences", Help: "d"}, []string{"table"})
	reg.MustRegister(drift)
	drift.WithLabelValues("public.orders").Set(3)
	drift.WithLabelValues("public.users").Set(0)
	d := getData(t, dashboard.New(dashboard.Options{Gatherer: reg}))
	got := map[string]string{}
	for _, s := range d.Status {
		got[s.Name] = s.Value + "/" + s.State + "/" + s.Detail
	}
	want := map[string]string{
		"PostgreSQL":             "up/ok/",
		"SurrealDB":              "down/bad/",
		"PostgreSQL → SurrealDB": "running/ok/lag 12 ms",
		"SurrealDB → PostgreSQL": "stopped/bad/",
		"In-doubt transactions":  "2/warn/oldest 1 min",
		"Drift":                  "3/bad/differences at the last verify",
		"Slot retained WAL":      "—/off/sync off",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("tile %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestProblemsLastIncrease: a counter already above zero when first seen
// has no known time; once it moves, it is dated by the poll that saw it.
func TestProblemsLastIncrease(t *testing.T) {
	t.Parallel()
	m := newMetrics(false)
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := dashboard.New(dashboard.WithClock(dashboard.Options{Gatherer: m.reg}, clock))
	if d := getData(t, h); len(d.Problems) != 1 || !d.Problems[0].LastIncrease.IsZero() {
		t.Fatalf("first look: %+v, want one problem with no time", d.Problems)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	m.sync.Errors.WithLabelValues("fatal").Inc()
	d := getData(t, h)
	if len(d.Problems) != 2 || d.Problems[0].Detail != "fatal" || !d.Problems[0].LastIncrease.Equal(clock()) || !d.Problems[1].LastIncrease.IsZero() {
		t.Fatalf("after a fatal error: %+v, want it first, dated now", d.Problems)
	}
	if _, body := get(t, h, "/ui/panels"); !strings.Contains(body, "just now") || !strings.Contains(body, "earlier") {
		t.Errorf("panels: %s", body)
	}
}

// TestTablesCountedOnce: the counts are taken at most once per
// TablesEvery whatever the number of polls; a failed count is shown next
// to the last good one.
func TestTablesCountedOnce(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var fail atomic.Bool
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	o := dashboard.Options{Gatherer: prometheus.NewRegistry(), TablesEvery: 10 * time.Second, Tables: func(context.Context) ([]dashboard.TableCount, error) {
		calls.Add(1)
		if fail.Load() {
			return nil, errors.New("connection refused")
		}
		return []dashboard.TableCount{{Table: "public.orders", Surreal: "orders", Direction: dashboard.Forward, PostgresRows: 1, SurrealRecords: 1}}, nil
	}}
	h := dashboard.New(dashboard.WithClock(o, clock))
	for range 3 {
		getData(t, h)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d counts for 3 polls within TablesEvery, want 1", calls.Load())
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	fail.Store(true)
	d := getData(t, h)
	if calls.Load() != 2 || d.Tables.Error != "connection refused" || len(d.Tables.Rows) != 1 {
		t.Fatalf("after a failed count: %d calls, %+v", calls.Load(), d.Tables)
	}
	if _, body := get(t, h, "/"); !strings.Contains(body, "Counting the tables failed: connection refused") || !strings.Contains(body, `data-table="public.orders"`) {
		t.Error("the page does not show the failed count next to the last good one")
	}
}

// TestRoutes: the assets are served with their types, nothing else is.
func TestRoutes(t *testing.T) {
	t.Parallel()
	h := dashboard.New(dashboard.Options{Gatherer: prometheus.NewRegistry()})
	for _, c := range []struct {
		path, ctype string
		code        int
	}{
		{"/ui/assets/dashboard.js", "text/javascript", http.StatusOK},
		{"/ui/assets/dashboard.css", "text/css", http.StatusOK},
		{"/ui/assets/", "", http.StatusNotFound},
		{"/ui/assets/nope.js", "", http.StatusNotFound},
		{"/ui/other", "", http.StatusNotFound},
		{"/login", "", http.StatusNotFound},
	} {
		resp, body := get(t, h, c.path)
		if resp.StatusCode != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.ctype)
		}
		if c.code == http.StatusOK && len(body) < 500 {
			t.Errorf("%s: %d bytes", c.path, len(body))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
}

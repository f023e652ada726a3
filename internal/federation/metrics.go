package federation

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics.
type metrics struct {
	queries     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	surrealRows prometheus.Counter
	pushdown    *prometheus.CounterVec
	cache       *prometheus.CounterVec
	slow        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgsurreal_federation_queries_total",
			Help: "Queries answered, by route (passthrough, federated) and outcome (ok, error)."}, []string{"route", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pgsurreal_federation_query_seconds",
			Help: "Query latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		surrealRows: prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_federation_surreal_rows_total",
			Help: "Rows fetched from SurrealDB (or its cache) for federated queries."}),
		pushdown: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgsurreal_federation_pushdowns_total",
			Help: "Work pushed down to SurrealDB, by kind (predicate, limit, bind_join)."}, []string{"kind"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgsurreal_federation_cache_requests_total",
			Help: "Cache lookups by result (hit, miss, error)."}, []string{"result"}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{Name: "pgsurreal_federation_slow_queries_total",
			Help: "Federated queries slower than federation.slow_query."}),
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.latency, m.surrealRows, m.pushdown, m.cache, m.slow)
	}
	return m
}

func (m *metrics) observe(route string, began time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.queries.WithLabelValues(route, outcome).Inc()
	m.latency.WithLabelValues(route).Observe(time.Since(began).Seconds())
}

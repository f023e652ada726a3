package dashboard

// chart is one live chart of the page.
type chart struct {
	// ID names it in data-chart.
	ID       string
	Title    string
	Subtitle string
	// Unit formats its axis and values in the page: "s" (seconds,
	// shown as ms or s) or "/s" (per second).
	Unit   string
	Series []series
}

// How a series is computed from the polls, in the page's script.
const (
	// kindGauge draws the metric's value at each poll.
	kindGauge = "gauge"
	// kindRate draws a counter's increase per second between two polls.
	kindRate = "rate"
	// kindQuantile draws a quantile of the observations a histogram
	// received between two polls.
	kindQuantile = "quantile"
)

// series is one line of a chart.
type series struct {
	// ID names it in data-series.
	ID    string
	Label string
	// Kind is kindGauge, kindRate or kindQuantile; Metric the family it
	// reads, summed over its labels; Q the quantile of kindQuantile.
	Kind   string
	Metric string
	Q      string
	// Class picks its colour (s1, s2).
	Class string
}

// Metric names the charts and panels read.
const (
	mSyncLag         = "pgsurreal_sync_lag_seconds"
	mReverseLag      = "pgsurreal_reverse_lag_seconds"
	mSyncChanges     = "pgsurreal_sync_changes_total"
	mReverseChanges  = "pgsurreal_reverse_changes_total"
	mQuerySeconds    = "pgsurreal_federation_query_seconds"
	mQueries         = "pgsurreal_federation_queries_total"
	mSlowQueries     = "pgsurreal_federation_slow_queries_total"
	mTxCommitted     = "pgsurreal_tx_committed_total"
	mTxAborted       = "pgsurreal_tx_aborted_total"
	mTxInDoubt       = "pgsurreal_tx_in_doubt"
	mTxOldestInDoubt = "pgsurreal_tx_oldest_in_doubt_seconds"
	mSyncErrors      = "pgsurreal_sync_errors_total"
	mSyncDeadLetters = "pgsurreal_sync_dead_letters_total"
	mSyncRetainedWAL = "pgsurreal_sync_slot_retained_wal_bytes"
	mReverseErrors   = "pgsurreal_reverse_errors_total"
	mConflicts       = "pgsurreal_reverse_conflicts_total"
	mMaintenanceRuns = "pgsurreal_maintenance_runs_total"
	mDrift           = "pgsurreal_verify_differences"
	// Collected by the monitor (internal/monitor), when it runs.
	mPostgresUp     = "pgsurreal_postgres_up"
	mSurrealUp      = "pgsurreal_surreal_up"
	mSyncRunning    = "pgsurreal_sync_running"
	mReverseRunning = "pgsurreal_reverse_running"
)

// charts are the page's charts, in order.
var charts = []chart{
	{ID: "lag", Title: "Replication lag", Subtitle: "age of the last applied transaction", Unit: "s", Series: []series{
		{ID: "lag_forward", Label: "PostgreSQL → SurrealDB", Kind: kindGauge, Metric: mSyncLag, Class: "s1"},
		{ID: "lag_reverse", Label: "SurrealDB → PostgreSQL", Kind: kindGauge, Metric: mReverseLag, Class: "s2"},
	}},
	{ID: "throughput", Title: "Throughput", Subtitle: "row changes applied per second", Unit: "/s", Series: []series{
		{ID: "throughput_forward", Label: "PostgreSQL → SurrealDB", Kind: kindRate, Metric: mSyncChanges, Class: "s1"},
		{ID: "throughput_reverse", Label: "SurrealDB → PostgreSQL", Kind: kindRate, Metric: mReverseChanges, Class: "s2"},
	}},
	{ID: "latency", Title: "Query latency", Subtitle: "queries through pgsurreal, estimated from histogram buckets", Unit: "s", Series: []series{
		{ID: "latency_p50", Label: "p50", Kind: kindQuantile, Metric: mQuerySeconds, Q: "0.5", Class: "s1"},
		{ID: "latency_p99", Label: "p99", Kind: kindQuantile, Metric: mQuerySeconds, Q: "0.99", Class: "s2"},
	}},
	{ID: "transactions", Title: "Distributed transactions", Subtitle: "outcomes per second", Unit: "/s", Series: []series{
		{ID: "tx_committed", Label: "committed", Kind: kindRate, Metric: mTxCommitted, Class: "s1"},
		{ID: "tx_aborted", Label: "aborted", Kind: kindRate, Metric: mTxAborted, Class: "s3"},
	}},
}

// chartMetrics lists the metrics data.json carries for the charts: values
// for gauges and rates, histograms for quantiles.
func chartMetrics() (values, histograms []string) {
	seen := map[string]bool{}
	for _, c := range charts {
		for _, s := range c.Series {
			if seen[s.Metric] {
				continue
			}
			seen[s.Metric] = true
			if s.Kind == kindQuantile {
				histograms = append(histograms, s.Metric)
			} else {
				values = append(values, s.Metric)
			}
		}
	}
	return values, histograms
}

// Package dashboard is the daemon's built-in web page: live charts of
// replication lag, throughput, query latency and distributed transaction
// outcomes; per-table counts on both sides; recent errors, conflicts and
// alerts; the last verify and backup. It is an http.Handler that package
// api mounts at GET / and GET /ui/... behind the browser sign-in (the
// http.token cookie), so it does no authentication of its own.
//
// Everything comes from inside the process: metrics are read from the
// daemon's prometheus.Gatherer (no HTTP scrape), the other panels from
// small sources the daemon passes in (the maintenance scheduler, the alert
// evaluator, a function counting each table's rows and records), each
// optional. Nothing is stored: the handler gathers on each request, and
// the browser keeps the rolling window its charts draw (Options.Window).
// The one piece of memory the handler keeps is when each error counter
// and each table's change counter was last seen to move, so the page can
// say "last increase 40 s ago" without a time series database.
//
// The page is rendered on the server with html/template (every value is
// escaped there); one small script, served as a file so a strict
// Content-Security-Policy holds (no inline script or style), polls two
// endpoints every Options.Poll:
//
//   - GET /ui/data.json: {"time", "values": {metric: sum over labels},
//     "histograms": {metric: {count, sum, buckets: [{le, count}]}}, and
//     the panels' data (status, tables, problems, alerts, maintenance)}.
//     The charts are computed from it in the browser: gauges as they are,
//     counters as per-second rates of the difference between two polls
//     (a counter that goes down is taken as reset), latency quantiles from
//     the difference of the histogram's buckets between two polls,
//     interpolated inside a bucket as Prometheus' histogram_quantile does.
//   - GET /ui/panels: the tables as an HTML fragment from the same
//     templates as the page, swapped in whole.
//
// Which metric each chart line shows, and how, is declared once in Go
// (charts.go) and carried to the script in data attributes, which also
// let tests read what was drawn: every chart's <svg> has data-chart and
// data-points, every line's <path> data-series, data-points, data-last
// and data-max.
package dashboard

// Package monitor watches the pair of databases and the host from the
// daemon: Prometheus collectors for PostgreSQL (connections, size,
// replication slots, prepared transactions, commit counters), SurrealDB
// (reachability, probe latency, record counts of the synced tables) and
// the disks holding the data, and the readiness check behind /readyz.
//
// The collectors ask the databases at scrape time, each scrape bounded by
// a short timeout, so the figures are as fresh as the scrape and nothing
// runs between scrapes. A database that does not answer turns its
// pgsurreal_*_up gauge to 0 (and is logged at debug level); it never fails
// the whole /metrics page, which keeps reporting the other components.
// The one expensive figure, SurrealDB record counts (a full scan per
// table), is cached and refreshed in the background at most every 30
// seconds, one refresh at a time.
//
// Readiness runs its checks concurrently on every /readyz request: both
// databases reachable, each replication direction serve runs reporting
// itself running, and its lag under alerts.lag_threshold. It reads the
// directions' state from the gauges they own (pgsurreal_sync_running,
// pgsurreal_sync_lag_seconds and the reverse ones), handed in by the
// composition root, rather than gathering the whole registry, which would
// run every database collector on each probe.
package monitor

// Package alert is alerting without Prometheus: `pgsurreal serve`
// evaluates the same conditions as deploy/prometheus/alerts.yml against
// its own metrics and posts each alert that fires, and each that resolves,
// to the webhooks of alerts.webhooks.
//
// The Evaluator reads the daemon's prometheus.Gatherer, the registry that
// /metrics serves, every alerts.evaluate_every, so an alert sees exactly
// what a scrape would: no engine reports to it and it imports none. Each
// rule turns the gathered series into instances, one per label set whose
// condition holds (a slot, a table, a direction). An instance follows
// Prometheus' states: pending while its condition holds for less than
// alerts.for, then firing, then resolved when the condition stops holding
// or its series disappears. A missing series is "no data", never a firing
// alert, with one exception: a scheduled maintenance task that has not
// succeeded since the evaluator started counts as old from that moment.
// Rates (slow queries, error rate) are increases over the last 5 minutes,
// computed from the counter values the evaluator remembers between its own
// evaluations, with counter resets handled as Prometheus' increase() does
// and a series that appears counted from zero.
//
// Notifications go out asynchronously: evaluation only puts a message on
// each webhook's queue, and one worker per webhook posts them in order,
// retrying a failed post with exponential backoff a bounded number of
// times, so a slow or broken receiver never delays evaluation and a
// resolved message never overtakes its firing one. Delivery is at least
// once: a receiver may see a message twice after a timeout, and
// deduplicates by fingerprint and status. URLs are logged only redacted
// (userinfo, query values and long path segments hidden), because webhook
// URLs often carry their token.
//
// The firing and resolved events are also kept in memory (the last 100,
// Recent) with the alerts now pending or firing (Active), for the
// dashboard. Lifecycle: New checks the options; Run evaluates until its
// context ends, then gives queued notifications a few seconds to go out
// and returns.
package alert

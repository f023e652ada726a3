package alert

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Names of the alerts, the same as the alert rules of
// deploy/prometheus/alerts.yml.
const (
	SyncStopped         = "PgsurrealSyncStopped"
	ReplicationLagHigh  = "PgsurrealReplicationLagHigh"
	SlotRetainedWALHigh = "PgsurrealSlotRetainedWALHigh"
	DatabaseDown        = "PgsurrealDatabaseDown"
	DiskUsageHigh       = "PgsurrealDiskUsageHigh"
	SlowQueries         = "PgsurrealSlowQueries"
	ErrorRateHigh       = "PgsurrealErrorRateHigh"
	TransactionInDoubt  = "PgsurrealTransactionInDoubt"
	DriftFound          = "PgsurrealDriftFound"
	MaintenanceFailed   = "PgsurrealMaintenanceFailed"
	MaintenanceTooOld   = "PgsurrealMaintenanceTooOld"
)

const (
	severityCritical     = "critical"
	severityWarning      = "warning"
	labelAlertName       = "alertname"
	labelSeverity        = "severity"
	directionForward     = "forward"
	directionReverse     = "reverse"
	maintenanceVerify    = "verify"
	maintenanceBackup    = "backup"
	walStatusLost        = "lost"
	walStatusUnreserved  = "unreserved"
	federationOutcomeErr = "error"
)

// The metrics the rules read.
const (
	metricSyncRunning        = "pgsurreal_sync_running"
	metricReverseRunning     = "pgsurreal_reverse_running"
	metricLeaderStandby      = "pgsurreal_leader_standby"
	metricSyncLag            = "pgsurreal_sync_lag_seconds"
	metricReverseLag         = "pgsurreal_reverse_lag_seconds"
	metricSlotRetained       = "pgsurreal_postgres_slot_retained_wal_bytes"
	metricSlotWALStatus      = "pgsurreal_postgres_slot_wal_status"
	metricPostgresUp         = "pgsurreal_postgres_up"
	metricSurrealUp          = "pgsurreal_surreal_up"
	metricDiskUsed           = "pgsurreal_disk_used_ratio"
	metricSlowQueries        = "pgsurreal_federation_slow_queries_total"
	metricFederationQueries  = "pgsurreal_federation_queries_total"
	metricAPIRequests        = "pgsurreal_api_requests_total"
	metricOldestInDoubt      = "pgsurreal_tx_oldest_in_doubt_seconds"
	metricVerifyDifferences  = "pgsurreal_verify_differences"
	metricMaintenanceOK      = "pgsurreal_maintenance_last_ok"
	metricMaintenanceSuccess = "pgsurreal_maintenance_last_success_timestamp_seconds"
	metricMaintenanceRun     = "pgsurreal_maintenance_last_run_timestamp_seconds"
	metricMaintenanceRunning = "pgsurreal_maintenance_running"
	metricMaintenanceRuns    = "pgsurreal_maintenance_runs_total"
)

// Names lists every alert the evaluator knows, in the order it evaluates
// them.
func Names() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.name
	}
	return out
}

// instance is one label set whose condition holds.
type instance struct {
	labels    map[string]string
	value     float64
	threshold *float64
	summary   string
}

// input is what a rule judges: one gather, the counters' history and the
// thresholds.
type input struct {
	now      time.Time
	started  time.Time // when the evaluator was built (serve started)
	series   snapshot
	counters *counters
	cfg      config.Alerts
}

// rule is one alert: a name, a severity and the condition, which returns
// the instances that hold now.
type rule struct {
	name     string
	severity string
	eval     func(in *input) []instance
}

var rules = []rule{
	{SyncStopped, severityCritical, syncStopped},
	{ReplicationLagHigh, severityWarning, lagHigh},
	{SlotRetainedWALHigh, severityCritical, slotRetained},
	{DatabaseDown, severityCritical, databaseDown},
	{DiskUsageHigh, severityCritical, diskUsage},
	{SlowQueries, severityWarning, slowQueries},
	{ErrorRateHigh, severityWarning, errorRate},
	{TransactionInDoubt, severityCritical, inDoubt},
	{DriftFound, severityCritical, drift},
	{MaintenanceFailed, severityWarning, maintenanceFailed},
	// Its severity depends on the task (a backup too old is critical).
	{MaintenanceTooOld, "", maintenanceTooOld},
}

// with returns a copy of labels with the pairs kv added.
func with(labels map[string]string, kv ...string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func ptr(f float64) *float64 { return &f }

// directions pairs each replication direction with its metric.
func directions(forward, reverse string) [][2]string {
	return [][2]string{{directionForward, forward}, {directionReverse, reverse}}
}

var directionText = map[string]string{
	directionForward: "forward replication (PostgreSQL -> SurrealDB)",
	directionReverse: "reverse replication (SurrealDB -> PostgreSQL)",
}

// syncStopped holds for a direction whose pipeline is not running,
// except on a standby daemon behind a leader it can see (ha.enabled):
// there replication is meant to be stopped.
func syncStopped(in *input) []instance {
	for _, s := range in.series[metricLeaderStandby] {
		if s.value == 1 {
			return nil
		}
	}
	var out []instance
	for _, d := range directions(metricSyncRunning, metricReverseRunning) {
		for _, s := range in.series[d[1]] {
			if s.value == 0 {
				out = append(out, instance{labels: with(s.labels, "direction", d[0]), value: s.value,
					summary: fmt.Sprintf("The %s is not running (%s is 0); the log says why it stopped", directionText[d[0]], d[1])})
			}
		}
	}
	return out
}

func lagHigh(in *input) []instance {
	limit := in.cfg.LagThreshold.Seconds()
	var out []instance
	for _, d := range directions(metricSyncLag, metricReverseLag) {
		for _, s := range in.series[d[1]] {
			if s.value > limit {
				out = append(out, instance{labels: with(s.labels, "direction", d[0]), value: s.value, threshold: ptr(limit),
					summary: fmt.Sprintf("The %s lags %s behind (threshold %s, alerts.lag_threshold)", directionText[d[0]], seconds(s.value), in.cfg.LagThreshold)})
			}
		}
	}
	return out
}

func slotRetained(in *input) []instance {
	limit := float64(in.cfg.SlotRetainedBytes)
	type slot struct {
		labels   map[string]string
		retained float64
		hasBytes bool
		status   string // lost or unreserved, when it is
	}
	slots := map[string]*slot{}
	get := func(labels map[string]string) *slot {
		name := labels["slot"]
		if slots[name] == nil {
			slots[name] = &slot{labels: map[string]string{"slot": name}}
		}
		return slots[name]
	}
	for _, s := range in.series[metricSlotRetained] {
		sl := get(s.labels)
		sl.retained, sl.hasBytes = s.value, true
	}
	for _, s := range in.series[metricSlotWALStatus] {
		if st := s.labels["status"]; s.value > 0 && (st == walStatusLost || st == walStatusUnreserved) {
			get(s.labels).status = st
		}
	}
	var out []instance
	for _, name := range slices.Sorted(maps.Keys(slots)) {
		sl := slots[name]
		switch {
		case sl.status != "":
			msg := fmt.Sprintf("Replication slot %q has wal_status %s: ", name, sl.status)
			if sl.status == walStatusLost {
				msg += "PostgreSQL has removed WAL the slot needs; the sync cannot resume and needs `pgsurreal sync --resync`"
			} else {
				msg += "it retains more WAL than max_slot_wal_keep_size and PostgreSQL removes it at the next checkpoint; the sync must catch up now or the slot is lost"
			}
			if sl.hasBytes {
				msg += fmt.Sprintf(" (it retains %s)", formatBytes(sl.retained))
			}
			out = append(out, instance{labels: sl.labels, value: sl.retained, threshold: ptr(limit), summary: msg})
		case sl.hasBytes && sl.retained > limit:
			out = append(out, instance{labels: sl.labels, value: sl.retained, threshold: ptr(limit),
				summary: fmt.Sprintf("Replication slot %q retains %s of WAL (threshold %s, alerts.slot_retained_bytes); the sync is behind or stopped", name, formatBytes(sl.retained), formatBytes(limit))})
		}
	}
	return out
}

func databaseDown(in *input) []instance {
	var out []instance
	for _, d := range [][3]string{{"postgres", metricPostgresUp, "PostgreSQL"}, {"surreal", metricSurrealUp, "SurrealDB"}} {
		for _, s := range in.series[d[1]] {
			if s.value == 0 {
				out = append(out, instance{labels: with(s.labels, "database", d[0]), value: s.value,
					summary: fmt.Sprintf("%s does not answer (%s is 0)", d[2], d[1])})
			}
		}
	}
	return out
}

func diskUsage(in *input) []instance {
	limit := float64(in.cfg.DiskUsagePercent)
	var out []instance
	for _, s := range in.series[metricDiskUsed] {
		if pct := s.value * 100; pct > limit {
			out = append(out, instance{labels: with(s.labels), value: pct, threshold: ptr(limit),
				summary: fmt.Sprintf("The filesystem of %s is %.1f%% full (threshold %.0f%%, alerts.disk_usage_percent)", s.labels["path"], pct, limit)})
		}
	}
	return out
}

func slowQueries(in *input) []instance {
	n, ok := in.counters.increase(metricSlowQueries, nil)
	if !ok || n <= 0 {
		return nil
	}
	return []instance{{labels: map[string]string{}, value: n, threshold: ptr(0),
		summary: fmt.Sprintf("%.0f federated %s slower than federation.slow_query in the last 5m", n, plural(n, "query was", "queries were"))}}
}

func errorRate(in *input) []instance {
	apiAll, okA := in.counters.increase(metricAPIRequests, nil)
	api5xx, _ := in.counters.increase(metricAPIRequests, func(l map[string]string) bool { return len(l["code"]) == 3 && l["code"][0] == '5' })
	fedAll, okF := in.counters.increase(metricFederationQueries, nil)
	fedErr, _ := in.counters.increase(metricFederationQueries, func(l map[string]string) bool { return l["outcome"] == federationOutcomeErr })
	total, failed := apiAll+fedAll, api5xx+fedErr
	if (!okA && !okF) || total <= 0 {
		return nil
	}
	limit := float64(in.cfg.ErrorRatePercent)
	pct := failed / total * 100
	if pct <= limit {
		return nil
	}
	return []instance{{labels: map[string]string{}, value: pct, threshold: ptr(limit),
		summary: fmt.Sprintf("%.1f%% of API requests and federated queries failed in the last 5m (%.0f of %.0f; threshold %.0f%%, alerts.error_rate_percent)", pct, failed, total, limit)}}
}

func inDoubt(in *input) []instance {
	limit := in.cfg.InDoubtAge.Seconds()
	var out []instance
	for _, s := range in.series[metricOldestInDoubt] {
		if s.value > limit {
			out = append(out, instance{labels: with(s.labels), value: s.value, threshold: ptr(limit),
				summary: fmt.Sprintf("A distributed transaction has been in doubt for %s (threshold %s, alerts.in_doubt_age); its prepared PostgreSQL part holds locks until `pgsurreal tx recover` or the resolver finishes it", seconds(s.value), in.cfg.InDoubtAge)})
		}
	}
	return out
}

func drift(in *input) []instance {
	var out []instance
	for _, s := range in.series[metricVerifyDifferences] {
		if s.value > 0 {
			t := s.labels["table"]
			out = append(out, instance{labels: with(s.labels), value: s.value, threshold: ptr(0),
				summary: fmt.Sprintf("%.0f %s of %s %s between PostgreSQL and SurrealDB (last verify); repair with `pgsurreal verify --table %s --repair`",
					s.value, plural(s.value, "record", "records"), t, plural(s.value, "differs", "differ"), t)})
		}
	}
	return out
}

// maintenanceTask reports whether labels name a task the maintenance
// alerts watch.
func maintenanceTask(labels map[string]string) (string, bool) {
	t := labels["task"]
	return t, t == maintenanceVerify || t == maintenanceBackup
}

func maintenanceFailed(in *input) []instance {
	var out []instance
	for _, s := range in.series[metricMaintenanceOK] {
		if t, ok := maintenanceTask(s.labels); ok && s.value == 0 {
			out = append(out, instance{labels: with(s.labels), value: s.value,
				summary: fmt.Sprintf("The last %s run failed; the error is in GET /v1/maintenance and the log", t)})
		}
	}
	return out
}

// maintenanceTooOld fires for a task that has run or is scheduled (any
// maintenance series names it) whose last success is older than
// alerts.maintenance_max_age; one that has not succeeded since the
// evaluator started counts from then.
func maintenanceTooOld(in *input) []instance {
	limit := in.cfg.MaintenanceMaxAge.Duration
	known := map[string]bool{}
	for _, name := range []string{metricMaintenanceOK, metricMaintenanceRun, metricMaintenanceRunning, metricMaintenanceRuns, metricMaintenanceSuccess} {
		for _, s := range in.series[name] {
			if t, ok := maintenanceTask(s.labels); ok {
				known[t] = true
			}
		}
	}
	last := map[string]float64{}
	for _, s := range in.series[metricMaintenanceSuccess] {
		if t, ok := maintenanceTask(s.labels); ok {
			last[t] = max(last[t], s.value)
		}
	}
	var out []instance
	for _, t := range slices.Sorted(maps.Keys(known)) {
		sev := severityWarning
		if t == maintenanceBackup {
			sev = severityCritical
		}
		var age time.Duration
		var msg string
		if ts, ok := last[t]; ok {
			age = in.now.Sub(time.Unix(0, int64(ts*1e9)))
			msg = fmt.Sprintf("No successful %s for %s (threshold %s, alerts.maintenance_max_age); see GET /v1/maintenance", t, age.Round(time.Second), in.cfg.MaintenanceMaxAge)
		} else {
			age = in.now.Sub(in.started)
			msg = fmt.Sprintf("No successful %s since pgsurreal serve started %s ago (threshold %s, alerts.maintenance_max_age); see GET /v1/maintenance", t, age.Round(time.Second), in.cfg.MaintenanceMaxAge)
		}
		if age > limit {
			out = append(out, instance{labels: map[string]string{"task": t, labelSeverity: sev}, value: age.Seconds(), threshold: ptr(limit.Seconds()), summary: msg})
		}
	}
	return out
}

// seconds formats a number of seconds as a duration, to the second.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// formatBytes formats a size in binary units.
func formatBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	div, exp := float64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", n/div, "KMGTP"[exp])
}

func plural(n float64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Package maintenance runs the daemon's periodic upkeep, such as verify
// and backup, on cron-style schedules and reports what each run found.
//
// A Scheduler knows nothing of verify or backup: a job is a name, a
// schedule (config.ParseSchedule: five cron fields or a descriptor such as
// @daily or "@every 6h") and a plain function returning an Outcome, so the
// engines that do the work stay independent of it and of each other, and
// tests run jobs that are ordinary Go functions. Each job has at most one
// run at a time: when its time comes while the previous run is still
// going, that time is skipped, counted and logged, never queued, so a
// verify slower than its interval cannot pile up behind itself.
//
// What a run did is kept three ways. The last runs of each job stay in
// memory (Status, served as GET /v1/maintenance). Prometheus metrics
// (pgsurreal_maintenance_*, pgsurreal_verify_differences{table},
// pgsurreal_backup_last_size_bytes) carry the signal that alerts are built
// on. A failed run, and a verify that found differences, are logged at
// error level with the job's name and summary. History and metrics live
// only as long as the process; the durable record of a backup is its
// directory.
//
// Lifecycle: New checks the jobs; Run starts their timers and, when its
// context ends, cancels the runs in progress (their context is canceled),
// waits for them to return and returns. Trigger starts a run at once,
// before Run too; after Run has returned it refuses with ErrStopped.
package maintenance

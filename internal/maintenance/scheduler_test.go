package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// t0 is where the fake clocks start: a Monday, on a whole second.
var t0 = time.Date(2025, 3, 10, 14, 7, 30, 0, time.Local)

func okJob(summary string) Func {
	return func(context.Context) (Outcome, error) { return Outcome{Summary: summary}, nil }
}

func TestNewRefusesBadJobs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		jobs []Job
		want string
	}{
		{"no name", []Job{{Run: okJob("")}}, "without a name"},
		{"twice", []Job{{Name: "verify", Run: okJob("")}, {Name: "verify", Run: okJob("")}}, `"verify" is defined twice`},
		{"no function", []Job{{Name: "backup", Schedule: "@daily"}}, `"backup" has no function`},
		{"bad schedule", []Job{{Name: "verify", Schedule: "0 3 * *", Run: okJob("")}}, `maintenance job "verify": schedule "0 3 * *"`},
		{"seconds field", []Job{{Name: "verify", Schedule: "0 0 3 * * *", Run: okJob("")}}, `schedule "0 0 3 * * *"`},
	}
	for _, c := range cases {
		_, err := New(Options{Jobs: c.jobs})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestNextTimes: the next time of each schedule, before Run and while the
// scheduler waits for it.
func TestNextTimes(t *testing.T) {
	t.Parallel()
	day := func(d, h, m int) time.Time { return time.Date(2025, 3, d, h, m, 0, 0, time.Local) }
	cases := []struct {
		schedule string
		want     time.Time
	}{
		{"0 3 * * *", day(11, 3, 0)},
		{"*/15 * * * *", day(10, 14, 15)},
		{"30 2 * * 0", day(16, 2, 30)}, // Sundays
		{"@hourly", day(10, 15, 0)},
		{"@daily", day(11, 0, 0)},
		{"@every 6h", t0.Add(6 * time.Hour)},
		{"", time.Time{}},
	}
	var jobs []Job
	for i, c := range cases {
		jobs = append(jobs, Job{Name: fmt.Sprint("job", i), Schedule: c.schedule, Run: okJob("")})
	}
	clk := newFakeClock(t0)
	s, err := New(Options{Jobs: jobs, clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		st := s.Status()
		for i, c := range cases {
			if got := st.Jobs[i].Next; !got.Equal(c.want) {
				t.Errorf("%s: %q: next %s, want %s", when, c.schedule, got, c.want)
			}
		}
	}
	check("before Run")
	start(t, s)
	clk.waitTimers(t, len(cases)-1)
	check("running")
}

// TestScheduledRuns: each time comes, the job runs; history keeps the
// newest runs; the metrics follow.
func TestScheduledRuns(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(t0)
	reg := prometheus.NewRegistry()
	started, release := make(chan int), make(chan struct{})
	n := 0
	f := func(context.Context) (Outcome, error) {
		n++
		started <- n
		<-release
		return Outcome{Summary: fmt.Sprint("run ", n), Details: map[string]float64{DetailTables: 4}}, nil
	}
	s, err := New(Options{Jobs: []Job{{Name: "verify", Schedule: "@every 1h", Run: f}}, Registerer: reg, History: 3, clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	for i := 1; i <= 5; i++ {
		clk.waitTimers(t, 1)
		clk.set(t0.Add(time.Duration(i) * time.Hour))
		if got := <-started; got != i {
			t.Fatalf("run %d started as run %d", got, i)
		}
		// Once the next time is set, the run takes 30s.
		clk.waitTimers(t, 1)
		clk.advance(30 * time.Second)
		release <- struct{}{}
		waitFor(t, s, fmt.Sprint("run ", i), func(st Status) bool {
			js := jobOf(t, st, "verify")
			return !js.Running && len(js.Runs) == min(i, 3) && js.Runs[0].Outcome.Summary == fmt.Sprint("run ", i)
		})
	}
	js := jobOf(t, s.Status(), "verify")
	var got []string
	for _, r := range js.Runs {
		got = append(got, r.Outcome.Summary)
		if !r.OK || r.Trigger != TriggerSchedule || r.DurationSeconds != 30 || r.Outcome.Details[DetailTables] != 4 {
			t.Errorf("run %+v", r)
		}
	}
	if strings.Join(got, ",") != "run 5,run 4,run 3" {
		t.Errorf("history %v, want the three newest, newest first", got)
	}
	last := t0.Add(5*time.Hour + 30*time.Second)
	if !js.Runs[0].Start.Equal(t0.Add(5*time.Hour)) || !js.Runs[0].End.Equal(last) {
		t.Errorf("last run from %s to %s", js.Runs[0].Start, js.Runs[0].End)
	}
	verify := map[string]string{"task": "verify"}
	for name, want := range map[string]float64{
		"pgsurreal_maintenance_last_run_timestamp_seconds":     float64(last.Unix()),
		"pgsurreal_maintenance_last_success_timestamp_seconds": float64(last.Unix()),
		"pgsurreal_maintenance_last_duration_seconds":          30,
		"pgsurreal_maintenance_last_ok":                        1,
		"pgsurreal_maintenance_running":                        0,
	} {
		if got := mustMetric(t, reg, name, verify); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for result, want := range map[string]float64{"ok": 5, "error": 0, "skipped": 0} {
		if got := mustMetric(t, reg, "pgsurreal_maintenance_runs_total", map[string]string{"task": "verify", "result": result}); got != want {
			t.Errorf("runs_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if _, ok := metric(t, reg, "pgsurreal_backup_last_size_bytes", nil); ok {
		t.Error("pgsurreal_backup_last_size_bytes exported before any backup")
	}
}

// TestOverlapSkipped: a time that comes while the run is still going is
// skipped and counted, not queued; a trigger then is refused.
func TestOverlapSkipped(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(t0)
	reg := prometheus.NewRegistry()
	var logs logBuffer
	started, release := make(chan struct{}), make(chan struct{})
	f := func(context.Context) (Outcome, error) {
		started <- struct{}{}
		<-release
		return Outcome{Summary: "done"}, nil
	}
	s, err := New(Options{Jobs: []Job{{Name: "verify", Schedule: "@every 1h", Run: f}}, Registerer: reg, Log: logs.logger(), clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	clk.waitTimers(t, 1)
	clk.advance(time.Hour)
	<-started
	for i := 1; i <= 2; i++ {
		clk.waitTimers(t, 1)
		clk.advance(time.Hour)
		waitFor(t, s, fmt.Sprint(i, " skipped"), func(st Status) bool { return jobOf(t, st, "verify").Skipped == int64(i) })
	}
	if err := s.Trigger("verify"); !errors.Is(err, ErrRunning) {
		t.Errorf("Trigger while running: %v, want ErrRunning", err)
	}
	js := jobOf(t, s.Status(), "verify")
	if !js.Running || !js.RunningSince.Equal(t0.Add(time.Hour)) || js.Skipped != 2 || !js.LastSkipped.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("status while running: %+v", js)
	}
	if got := mustMetric(t, reg, "pgsurreal_maintenance_running", map[string]string{"task": "verify"}); got != 1 {
		t.Errorf("running = %v, want 1", got)
	}
	close(release)
	waitFor(t, s, "the run to end", runs("verify", 1))
	if got := mustMetric(t, reg, "pgsurreal_maintenance_runs_total", map[string]string{"task": "verify", "result": "skipped"}); got != 2 {
		t.Errorf("skipped runs %v, want 2", got)
	}
	if got := mustMetric(t, reg, "pgsurreal_maintenance_runs_total", map[string]string{"task": "verify", "result": "ok"}); got != 1 {
		t.Errorf("ok runs %v, want 1 (skipped times are not queued)", got)
	}
	warns := logs.wait(t, "maintenance run skipped: the previous run is still going; the job takes longer than its schedule allows", 2)
	if len(warns) != 2 || warns[0]["level"] != "WARN" || warns[0]["job"] != "verify" || warns[1]["running_for"] != "2h0m0s" {
		t.Errorf("skip logs %v", warns)
	}
}

// TestTrigger: runs start on demand, scheduled or not; unknown jobs and a
// stopped scheduler are refused.
func TestTrigger(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(t0)
	s, err := New(Options{Jobs: []Job{
		{Name: "verify", Schedule: "0 3 * * *", Run: okJob("compared")},
		{Name: "backup", Run: okJob("backed up")},
	}, clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// Before Run too.
	if err := s.Trigger("backup"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "the backup", runs("backup", 1))
	stop := start(t, s)
	if err := s.Trigger("verify"); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, s, "the verify", runs("verify", 1))
	if r := jobOf(t, st, "verify").Runs[0]; r.Trigger != TriggerManual || !r.OK || r.Outcome.Summary != "compared" {
		t.Errorf("triggered run %+v", r)
	}
	if next := jobOf(t, st, "verify").Next; !next.Equal(time.Date(2025, 3, 11, 3, 0, 0, 0, time.Local)) {
		t.Errorf("a trigger moved the schedule: next %s", next)
	}
	err = s.Trigger("vacuum")
	if !errors.Is(err, ErrUnknownJob) || err.Error() != `maintenance job "vacuum": unknown job; the jobs are verify, backup` {
		t.Errorf("unknown job: %v", err)
	}
	stop()
	if err := s.Trigger("verify"); !errors.Is(err, ErrStopped) {
		t.Errorf("after stop: %v, want ErrStopped", err)
	}
	if next := jobOf(t, s.Status(), "verify").Next; !next.IsZero() {
		t.Errorf("next %s after stop, want none", next)
	}
}

// TestFailureAndDrift: failed runs and drift are error logs and metrics;
// the per-table differences follow each successful verify; backups set
// their size.
func TestFailureAndDrift(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var logs logBuffer
	outcomes := make(chan Outcome, 1)
	errs := make(chan error, 1)
	verify := func(context.Context) (Outcome, error) { return <-outcomes, <-errs }
	backup := func(context.Context) (Outcome, error) {
		return Outcome{Summary: "backup done", Backup: &BackupResult{Dir: "/backups/20250310T140730Z", Bytes: 123456}}, nil
	}
	s, err := New(Options{Jobs: []Job{{Name: "verify", Run: verify}, {Name: "backup", Run: backup}}, Registerer: reg, Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	runVerify := func(n int, o Outcome, err error) Run {
		t.Helper()
		outcomes <- o
		errs <- err
		if err := s.Trigger("verify"); err != nil {
			t.Fatal(err)
		}
		return jobOf(t, waitFor(t, s, fmt.Sprint("verify ", n), runs("verify", n)), "verify").Runs[0]
	}
	diffs := func() map[string]float64 {
		out := map[string]float64{}
		for _, table := range []string{"public.orders", "public.users", "public.items"} {
			if v, ok := metric(t, reg, "pgsurreal_verify_differences", map[string]string{"table": table}); ok {
				out[table] = v
			}
		}
		return out
	}
	const failed, drift = "maintenance run failed", "maintenance found drift: PostgreSQL and SurrealDB differ"

	r := runVerify(1, Outcome{Summary: "2 tables, 3 differences", Differences: map[string]int64{"public.orders": 3, "public.users": 0}}, nil)
	if !r.OK || r.Outcome.Details[DetailDifferences] != 3 {
		t.Errorf("drift run %+v", r)
	}
	if got := diffs(); fmt.Sprint(got) != "map[public.orders:3 public.users:0]" {
		t.Errorf("differences after drift: %v", got)
	}
	if recs := logs.records(t, drift); len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["job"] != "verify" ||
		recs[0]["summary"] != "2 tables, 3 differences" || recs[0]["differences"] != float64(3) || fmt.Sprint(recs[0]["tables"]) != "[public.orders]" {
		t.Errorf("drift logs %v", recs)
	}

	// A failed verify proves nothing: the differences stay.
	r = runVerify(2, Outcome{Summary: "stopped at public.users"}, errors.New("reading public.users: connection refused"))
	if r.OK || r.Error != "reading public.users: connection refused" || r.Outcome.Summary != "stopped at public.users" {
		t.Errorf("failed run %+v", r)
	}
	if got := mustMetric(t, reg, "pgsurreal_maintenance_last_ok", map[string]string{"task": "verify"}); got != 0 {
		t.Errorf("last_ok = %v after a failure", got)
	}
	if got := diffs(); got["public.orders"] != 3 {
		t.Errorf("differences after a failed verify: %v", got)
	}
	if recs := logs.records(t, failed); len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["job"] != "verify" ||
		recs[0]["err"] != "reading public.users: connection refused" || recs[0]["summary"] != "stopped at public.users" {
		t.Errorf("failure logs %v", recs)
	}

	// Clean again, over other tables: those no longer listed go to 0.
	runVerify(3, Outcome{Summary: "clean", Differences: map[string]int64{"public.items": 0}}, nil)
	if got := diffs(); fmt.Sprint(got) != "map[public.items:0 public.orders:0 public.users:0]" {
		t.Errorf("differences after a clean verify: %v", got)
	}
	if got := mustMetric(t, reg, "pgsurreal_maintenance_last_ok", map[string]string{"task": "verify"}); got != 1 {
		t.Errorf("last_ok = %v after a success", got)
	}
	if len(logs.records(t, drift)) != 1 || len(logs.records(t, failed)) != 1 {
		t.Error("a clean verify logged drift or a failure")
	}

	if err := s.Trigger("backup"); err != nil {
		t.Fatal(err)
	}
	r = jobOf(t, waitFor(t, s, "the backup", runs("backup", 1)), "backup").Runs[0]
	if r.Outcome.Backup.Dir != "/backups/20250310T140730Z" || r.Outcome.Details[DetailBytes] != 123456 {
		t.Errorf("backup run %+v", r)
	}
	want := `
# HELP pgsurreal_backup_last_size_bytes Size of the last successful backup.
# TYPE pgsurreal_backup_last_size_bytes gauge
pgsurreal_backup_last_size_bytes 123456
# HELP pgsurreal_maintenance_runs_total Times a maintenance job's time came, by result: ok, error, or skipped because the previous run was still going.
# TYPE pgsurreal_maintenance_runs_total counter
pgsurreal_maintenance_runs_total{result="error",task="backup"} 0
pgsurreal_maintenance_runs_total{result="ok",task="backup"} 1
pgsurreal_maintenance_runs_total{result="skipped",task="backup"} 0
pgsurreal_maintenance_runs_total{result="error",task="verify"} 1
pgsurreal_maintenance_runs_total{result="ok",task="verify"} 2
pgsurreal_maintenance_runs_total{result="skipped",task="verify"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pgsurreal_backup_last_size_bytes", "pgsurreal_maintenance_runs_total"); err != nil {
		t.Error(err)
	}
}

// TestShutdown: Run returns once the running jobs have seen the
// cancellation and returned; the interrupted run is recorded.
func TestShutdown(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	started := make(chan struct{})
	sawCancel := false
	f := func(ctx context.Context) (Outcome, error) {
		close(started)
		<-ctx.Done()
		sawCancel = true
		return Outcome{Summary: "interrupted at public.orders"}, ctx.Err()
	}
	s, err := New(Options{Jobs: []Job{{Name: "backup", Schedule: "@daily", Run: f}}, Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if err := s.Trigger("backup"); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return after its context ended")
	}
	if !sawCancel {
		t.Error("Run returned before the job saw the cancellation")
	}
	js := jobOf(t, s.Status(), "backup")
	if js.Running || len(js.Runs) != 1 || js.Runs[0].Error != "context canceled" {
		t.Errorf("after shutdown: %+v", js)
	}
	if recs := logs.records(t, "maintenance run interrupted by shutdown"); len(recs) != 1 || recs[0]["level"] != "WARN" {
		t.Errorf("shutdown logs %v", recs)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
}

// TestPanicIsAFailedRun: a job that panics fails its run; the scheduler
// and the process go on.
func TestPanicIsAFailedRun(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	calls := 0
	f := func(context.Context) (Outcome, error) {
		calls++
		if calls == 1 {
			var m map[string]int
			m["x"] = 1
		}
		return Outcome{Summary: "fine"}, nil
	}
	s, err := New(Options{Jobs: []Job{{Name: "verify", Run: f}}, Log: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	for i := 1; i <= 2; i++ {
		if err := s.Trigger("verify"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, s, fmt.Sprint("run ", i), runs("verify", i))
	}
	rs := jobOf(t, s.Status(), "verify").Runs
	if rs[1].OK || !strings.HasPrefix(rs[1].Error, "panic: assignment to entry in nil map") || !rs[0].OK {
		t.Errorf("runs %+v", rs)
	}
	if recs := logs.records(t, "maintenance job panicked"); len(recs) != 1 || !strings.Contains(recs[0]["stack"].(string), "TestPanicIsAFailedRun") {
		t.Errorf("panic logs %v", recs)
	}
}

// TestScheduleThatNeverComes: February 30th is a valid cron expression
// with no time; the job is left to triggers, not run in a loop.
func TestScheduleThatNeverComes(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	s, err := New(Options{Jobs: []Job{{Name: "verify", Schedule: "0 0 30 2 *", Run: okJob("")}}, Log: logs.logger(), clock: newFakeClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, s)
	rec := logs.wait(t, "maintenance job's schedule has no time in the next five years; it will not run on its own", 1)[0]
	if rec["level"] != "ERROR" || rec["job"] != "verify" {
		t.Errorf("log %v", rec)
	}
	stop()
	if js := jobOf(t, s.Status(), "verify"); len(js.Runs) != 0 || !js.Next.IsZero() {
		t.Errorf("status %+v", js)
	}
}

// TestRealClock: with the real clock, an "@every 1s" job runs on its own.
func TestRealClock(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Jobs: []Job{{Name: "verify", Schedule: "@every 1s", Run: okJob("tick")}}})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if next := jobOf(t, s.Status(), "verify").Next; next.Before(before) || next.After(before.Add(1100*time.Millisecond)) {
		t.Errorf("next %s, want within a second of %s", next, before)
	}
	start(t, s)
	r := jobOf(t, waitFor(t, s, "a scheduled run", runs("verify", 1)), "verify").Runs[0]
	if r.Trigger != TriggerSchedule || r.Start.Before(before) || r.Start.Nanosecond() > int(500*time.Millisecond) {
		t.Errorf("run %+v, want one started on a whole second", r)
	}
}

// TestStatusJSON: the shape GET /v1/maintenance serves.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	utc := time.Date(2025, 3, 10, 14, 7, 30, 0, time.UTC)
	clk := newFakeClock(utc)
	f := func(context.Context) (Outcome, error) {
		clk.advance(1500 * time.Millisecond)
		return Outcome{Summary: "1 table, 1 difference", Details: map[string]float64{DetailTables: 1}, Differences: map[string]int64{"public.orders": 1}}, nil
	}
	s, err := New(Options{Jobs: []Job{{Name: "verify", Schedule: "0 3 * * *", Run: f}, {Name: "backup", Run: okJob("")}}, clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Trigger("verify"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "the verify", runs("verify", 1))
	got, err := json.Marshal(s.Status())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"jobs":[` +
		`{"name":"verify","schedule":"0 3 * * *","next":"2025-03-11T03:00:00Z","running":false,"skipped":0,"runs":[` +
		`{"trigger":"manual","start":"2025-03-10T14:07:30Z","end":"2025-03-10T14:07:31.5Z","duration_seconds":1.5,"ok":true,` +
		`"outcome":{"summary":"1 table, 1 difference","details":{"differences":1,"tables":1},"differences":{"public.orders":1}}}]},` +
		`{"name":"backup","schedule":"","running":false,"skipped":0,"runs":[]}]}`
	if string(got) != want {
		t.Errorf("status JSON\n got %s\nwant %s", got, want)
	}
}

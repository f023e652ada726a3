package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Names of the jobs `pgsurreal serve` schedules, as they appear in
// metrics, logs and the API.
const (
	JobVerify = "verify"
	JobBackup = "backup"
)

// DefaultHistory is how many runs of each job Status keeps.
const DefaultHistory = 20

// What started a run, Run.Trigger.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// Errors of Trigger, to test with errors.Is.
var (
	ErrUnknownJob = errors.New("unknown job")
	ErrRunning    = errors.New("a run is already in progress")
	ErrStopped    = errors.New("the scheduler has stopped")
)

// Func is one run of a job. It must return soon after ctx ends (the
// daemon is shutting down), with ctx's error or any other.
type Func func(ctx context.Context) (Outcome, error)

// Job is a piece of maintenance and when it runs.
type Job struct {
	// Name names the job in metrics, logs and the API (JobVerify,
	// JobBackup).
	Name string
	// Schedule is when it runs: five cron fields or a descriptor
	// (config.ParseSchedule), in local time. Empty runs the job only when
	// triggered.
	Schedule string
	// Run does the work.
	Run Func
}

// Options are what a Scheduler is built from.
type Options struct {
	Jobs []Job
	// Registerer receives the scheduler's metrics; nil registers none.
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// History is how many runs of each job Status keeps; 0 means
	// DefaultHistory.
	History int

	// clock is the time source; nil is the real one.
	clock clock
}

// Scheduler runs jobs on their schedules, one run of a job at a time.
type Scheduler struct {
	log     *slog.Logger
	clock   clock
	history int
	metrics *metrics
	jobs    []*job
	byName  map[string]*job
	// base is the parent of every run's context; Run cancels it when it
	// stops.
	base   context.Context
	cancel context.CancelFunc
	runs   sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
	// changed is closed and replaced whenever a run starts, ends or is
	// skipped, for whoever waits for the state to change.
	changed chan struct{}
}

// job is a Job and its state; the fields below Job are guarded by
// Scheduler.mu.
type job struct {
	Job
	sched       interface{ Next(time.Time) time.Time }
	next        time.Time
	running     bool
	runStart    time.Time
	runTrigger  string
	skipped     int64
	lastSkipped time.Time
	runs        []Run // newest first
}

// New checks the jobs and returns their scheduler; nothing runs before
// Run or Trigger.
func New(o Options) (*Scheduler, error) {
	s := &Scheduler{log: o.Log, clock: o.clock, history: o.History, byName: map[string]*job{}, changed: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.history <= 0 {
		s.history = DefaultHistory
	}
	for _, jb := range o.Jobs {
		j := &job{Job: jb}
		switch {
		case jb.Name == "":
			return nil, errors.New("maintenance job without a name")
		case s.byName[jb.Name] != nil:
			return nil, fmt.Errorf("maintenance job %q is defined twice", jb.Name)
		case jb.Run == nil:
			return nil, fmt.Errorf("maintenance job %q has no function to run", jb.Name)
		}
		if jb.Schedule != "" {
			sched, err := config.ParseSchedule(jb.Schedule)
			if err != nil {
				return nil, fmt.Errorf("maintenance job %q: schedule %q: %w", jb.Name, jb.Schedule, err)
			}
			j.sched = sched
		}
		s.jobs = append(s.jobs, j)
		s.byName[jb.Name] = j
	}
	s.metrics = newMetrics(o.Registerer)
	for _, j := range s.jobs {
		s.metrics.addJob(j.Name)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Run starts each scheduled job's timer and returns once ctx has ended and
// every run in progress, whose context is then canceled, has returned.
// It returns an error only when called twice.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("maintenance: Scheduler.Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	var timers sync.WaitGroup
	for _, j := range s.jobs {
		if j.sched != nil {
			timers.Go(func() { s.loop(ctx, j) })
		}
	}
	<-ctx.Done()
	timers.Wait()
	s.mu.Lock()
	s.stopped = true
	s.broadcast()
	s.mu.Unlock()
	s.cancel()
	s.runs.Wait()
	return nil
}

// Trigger starts a run of the named job now, whatever its schedule. It
// returns at once; Status tells how the run went.
func (s *Scheduler) Trigger(name string) error {
	j := s.byName[name]
	if j == nil {
		return fmt.Errorf("maintenance job %q: %w; the jobs are %s", name, ErrUnknownJob, s.names())
	}
	if err := s.start(j, TriggerManual); err != nil {
		return fmt.Errorf("maintenance job %q: %w", name, err)
	}
	return nil
}

func (s *Scheduler) names() string {
	if len(s.jobs) == 0 {
		return "none"
	}
	names := make([]string, len(s.jobs))
	for i, j := range s.jobs {
		names[i] = j.Name
	}
	return strings.Join(names, ", ")
}

// loop starts the job each time its schedule comes, until ctx ends.
func (s *Scheduler) loop(ctx context.Context, j *job) {
	for {
		next := j.sched.Next(s.clock.Now())
		if next.IsZero() {
			s.log.Error("maintenance job's schedule has no time in the next five years; it will not run on its own", "job", j.Name, "schedule", j.Schedule)
			return
		}
		s.mu.Lock()
		j.next = next
		s.mu.Unlock()
		if !sleepUntil(ctx, s.clock, next) {
			return
		}
		err := s.start(j, TriggerSchedule)
		if errors.Is(err, ErrRunning) {
			s.skip(j)
		}
	}
}

// start begins a run of j unless one is going or the scheduler stopped.
func (s *Scheduler) start(j *job, trigger string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return ErrStopped
	case j.running:
		return ErrRunning
	}
	start := s.clock.Now()
	j.running, j.runStart, j.runTrigger = true, start, trigger
	s.metrics.running.WithLabelValues(j.Name).Set(1)
	s.broadcast()
	s.runs.Add(1) // under mu, so never after Run's Wait has begun
	go s.execute(j, start, trigger)
	return nil
}

// skip counts a time of j's that came while a run was still going.
func (s *Scheduler) skip(j *job) {
	s.mu.Lock()
	now := s.clock.Now()
	j.skipped++
	j.lastSkipped = now
	since := j.runStart
	s.metrics.runs.WithLabelValues(j.Name, resultSkipped).Inc()
	s.broadcast()
	s.mu.Unlock()
	s.log.Warn("maintenance run skipped: the previous run is still going; the job takes longer than its schedule allows",
		"job", j.Name, "schedule", j.Schedule, "running_for", now.Sub(since).Round(time.Second).String())
}

// execute runs j and records the run.
func (s *Scheduler) execute(j *job, start time.Time, trigger string) {
	defer s.runs.Done()
	log := s.log.With("job", j.Name, "trigger", trigger)
	log.Info("maintenance run started")
	out, err := s.call(log, j.Run)
	end := s.clock.Now()
	r := Run{Trigger: trigger, Start: start, End: end, DurationSeconds: end.Sub(start).Seconds(), OK: err == nil, Outcome: out.clone()}
	if err != nil {
		r.Error = err.Error()
	}
	s.report(log, r) // before the run shows in Status, so its log is there when it does
	s.mu.Lock()
	j.running, j.runStart, j.runTrigger = false, time.Time{}, ""
	j.runs = append([]Run{r}, j.runs[:min(len(j.runs), s.history-1)]...)
	s.metrics.ran(j.Name, r)
	s.broadcast()
	s.mu.Unlock()
}

// call runs f, turning a panic into the run's error: a bug in a job must
// not take replication down with it.
func (s *Scheduler) call(log *slog.Logger, f Func) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("maintenance job panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f(s.base)
}

// report logs the end of a run. Failures and drift are errors: with the
// metrics they are what alerts are built on.
func (s *Scheduler) report(log *slog.Logger, r Run) {
	attrs := []any{"summary", r.Outcome.Summary, "duration", r.End.Sub(r.Start).Round(time.Millisecond).String()}
	switch {
	case !r.OK && s.base.Err() != nil:
		log.Warn("maintenance run interrupted by shutdown", append(attrs, "err", r.Error)...)
	case !r.OK:
		log.Error("maintenance run failed", append(attrs, "err", r.Error)...)
	case r.Outcome.Drift() > 0:
		log.Error("maintenance found drift: PostgreSQL and SurrealDB differ",
			append(attrs, "differences", r.Outcome.Drift(), "tables", r.Outcome.DriftTables())...)
	default:
		log.Info("maintenance run finished", attrs...)
	}
}

// broadcast wakes whoever waits for a change; the caller holds mu.
func (s *Scheduler) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

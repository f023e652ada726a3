package maintenance

import (
	"time"
)

// Status is a snapshot of every job, as GET /v1/maintenance serves it.
type Status struct {
	// Jobs are in the order they were given to New.
	Jobs []JobStatus `json:"jobs"`
}

// JobStatus is one job's schedule, state and last runs.
type JobStatus struct {
	Name string `json:"name"`
	// Schedule is the cron expression; empty for a job that runs only
	// when triggered.
	Schedule string `json:"schedule"`
	// Next is when the schedule next comes; zero (absent in JSON) without
	// a schedule or once the scheduler has stopped.
	Next time.Time `json:"next,omitzero"`
	// Running says a run is in progress, started at RunningSince.
	Running      bool      `json:"running"`
	RunningSince time.Time `json:"running_since,omitzero"`
	// Skipped counts the times that came while a run was still going;
	// LastSkipped is the latest.
	Skipped     int64     `json:"skipped"`
	LastSkipped time.Time `json:"last_skipped,omitzero"`
	// Runs are the last finished runs, newest first (at most
	// Options.History).
	Runs []Run `json:"runs"`
}

// Run is one finished run.
type Run struct {
	// Trigger is what started it: TriggerSchedule or TriggerManual.
	Trigger         string    `json:"trigger"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	DurationSeconds float64   `json:"duration_seconds"`
	// OK is false when the job returned an error, whose text is Error.
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
	Outcome Outcome `json:"outcome"`
}

// Status returns a snapshot of every job; it shares nothing with the
// scheduler.
func (s *Scheduler) Status() Status {
	st, _ := s.watch()
	return st
}

// watch returns the snapshot and a channel closed at the next change of
// state (a run starting, ending or skipped).
func (s *Scheduler) watch() (Status, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	st := Status{Jobs: make([]JobStatus, 0, len(s.jobs))}
	for _, j := range s.jobs {
		js := JobStatus{
			Name: j.Name, Schedule: j.Schedule,
			Running: j.running, RunningSince: j.runStart,
			Skipped: j.skipped, LastSkipped: j.lastSkipped,
			Runs: make([]Run, len(j.runs)),
		}
		switch {
		case j.sched == nil || s.stopped:
		case !j.next.IsZero() && j.next.After(now):
			js.Next = j.next
		default:
			// Before Run, or while the timer is about to fire.
			js.Next = j.sched.Next(now)
		}
		for i, r := range j.runs {
			r.Outcome = r.Outcome.clone()
			js.Runs[i] = r
		}
		st.Jobs = append(st.Jobs, js)
	}
	return st, s.changed
}

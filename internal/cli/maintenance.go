package cli

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/maintenance"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// startMaintenance builds serve's scheduler of verify.schedule and
// backup.schedule, run next to the engines; nil when neither is set.
func (a *app) startMaintenance(reg prometheus.Registerer, f *front) (*maintenance.Scheduler, error) {
	var jobs []maintenance.Job
	if a.cfg.Verify.Schedule != "" {
		jobs = append(jobs, maintenance.Job{Name: maintenance.JobVerify, Schedule: a.cfg.Verify.Schedule, Run: a.verifyJob})
	}
	jobs = append(jobs, a.backupJobs()...)
	if len(jobs) == 0 {
		return nil, nil
	}
	s, err := maintenance.New(maintenance.Options{Jobs: jobs, Registerer: reg, Log: a.log})
	if err != nil {
		return nil, fmt.Errorf("scheduled maintenance: %w", err)
	}
	f.runs = append(f.runs, namedRun{name: "maintenance", run: s.Run})
	for _, j := range jobs {
		a.log.Info("scheduled maintenance", "task", j.Name, "schedule", j.Schedule)
	}
	return s, nil
}

// verifyJob is the scheduled verify: sampled per verify.sample_percent,
// repairing when verify.repair is set.
func (a *app) verifyJob(ctx context.Context) (maintenance.Outcome, error) {
	rep, err := verify.Run(ctx, verify.Options{Config: a.cfg, Repair: a.cfg.Verify.Repair, SamplePercent: a.cfg.Verify.SamplePercent, Log: a.log})
	if err != nil {
		return maintenance.Outcome{Summary: "verify failed"}, err
	}
	out := maintenance.Outcome{Differences: map[string]int64{}, Details: map[string]float64{maintenance.DetailTables: float64(len(rep.Tables))}}
	repaired := 0
	for _, t := range rep.Tables {
		out.Differences[t.Table] = int64(len(t.Differences))
		repaired += t.Repaired
	}
	out.Details[maintenance.DetailRepaired] = float64(repaired)
	total := out.Drift()
	out.Summary = fmt.Sprintf("%d tables, %d differences", len(rep.Tables), total)
	if a.cfg.Verify.Repair && total > 0 {
		out.Summary += fmt.Sprintf(", %d keys repaired, %d still different", repaired, rep.Differences())
	}
	for _, n := range rep.Notes {
		out.Summary += "; " + n
	}
	return out, nil
}

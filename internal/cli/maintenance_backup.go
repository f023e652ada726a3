package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/backup"
	"github.com/pgsurreal/pgsurreal/internal/maintenance"
)

// backupJobs is the scheduled backup when backup.schedule is set.
func (a *app) backupJobs() []maintenance.Job {
	if a.cfg.Backup.Schedule == "" {
		return nil
	}
	return []maintenance.Job{{Name: maintenance.JobBackup, Schedule: a.cfg.Backup.Schedule, Run: a.backupJob}}
}

// backupJob backs both databases up into backup.dir, then applies the
// retention (backup.keep, backup.max_age).
func (a *app) backupJob(ctx context.Context) (maintenance.Outcome, error) {
	dir := a.cfg.Backup.Dir
	res, err := backup.Run(ctx, backup.Options{Config: a.cfg, Dir: dir, Log: a.log})
	if err != nil {
		return maintenance.Outcome{Summary: "backup failed"}, err
	}
	out := maintenance.Outcome{
		Backup:  &maintenance.BackupResult{Dir: res.Dir, Bytes: res.Bytes},
		Details: map[string]float64{"files": float64(res.Files), "seconds": res.Seconds},
	}
	removed, err := backup.Prune(dir, a.cfg.Backup.Keep, a.cfg.Backup.MaxAge.Duration, time.Now())
	out.Details[maintenance.DetailRemoved] = float64(len(removed))
	out.Summary = fmt.Sprintf("backup %s, %d files, %.1f MiB, %d old ones removed", filepath.Base(res.Dir), res.Files, float64(res.Bytes)/(1<<20), len(removed))
	if err != nil {
		return out, fmt.Errorf("the backup %s was written, but retention failed: %w", res.Dir, err)
	}
	return out, nil
}

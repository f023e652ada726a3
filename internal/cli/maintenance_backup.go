package cli

import "github.com/pgsurreal/pgsurreal/internal/maintenance"

// backupJobs is the scheduled backup, once backup.schedule is set.
func (a *app) backupJobs() []maintenance.Job { return nil }

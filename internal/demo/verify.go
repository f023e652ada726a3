package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// verifyAndRepair verifies every replicated table (what `pgsurreal
// verify` does), changes two SurrealDB records behind replication's
// back, finds exactly those, repairs them, and verifies again.
func (d *session) verifyAndRepair(ctx context.Context, p *printer, res *Result) error {
	cfg := config.Default()
	cfg.Postgres, cfg.Surreal = d.o.demoPG(), d.o.demoSurreal()
	cfg.Sync, cfg.Reverse = d.o.syncConfig(), d.o.reverseConfig()
	cfg.Verify.WaitTimeout.Duration = 5 * time.Second
	run := func(repair bool) (*verify.Report, error) {
		return verify.Run(ctx, verify.Options{Config: cfg, Repair: repair, Log: d.o.Log})
	}
	p.note("every table compared through the mapping, rows against records, links and edges (pgsurreal verify):")
	rep, err := run(false)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var rows int64
	for _, t := range rep.Tables {
		rows += t.SourceRows
	}
	res.VerifyClean = rep.Differences() == 0
	p.ok("%d tables, %s rows, %d differences, in %s", len(rep.Tables), thousands(rows), rep.Differences(), ms(rep.Finished.Sub(rep.Started)))

	pool, err := surreal.NewPool(ctx, d.o.demoSurreal(), d.o.Log)
	if err != nil {
		return err
	}
	defer pool.Close(context.WithoutCancel(ctx))
	drift := "UPDATE products:1 SET price = 0.01; CREATE products:999999 SET name = 'not in PostgreSQL'"
	if err := surrealExec(ctx, pool, drift); err != nil {
		return err
	}
	p.note("two writes straight into SurrealDB, around replication:")
	p.query(strings.ReplaceAll(drift, "; ", ";\n"))
	if rep, err = run(false); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	res.VerifyFound = rep.Differences()
	for _, t := range rep.Tables {
		for _, df := range t.Differences {
			line := fmt.Sprintf("  %-9s %s", df.Kind, df.Key)
			if len(df.Fields) > 0 {
				line += "  fields " + strings.Join(df.Fields, ", ")
			}
			p.line("%s", line)
		}
	}
	if rep, err = run(true); err != nil {
		return fmt.Errorf("verify --repair: %w", err)
	}
	if rep, err = run(false); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	res.VerifyRepaired = rep.Differences() == 0
	if !res.VerifyRepaired {
		return fmt.Errorf("verify still finds %d differences after the repair", rep.Differences())
	}
	p.ok("verify --repair rewrote both from PostgreSQL, the source of truth; verify is clean again")
	return nil
}

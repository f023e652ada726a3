package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/buildinfo"
	"github.com/pgsurreal/pgsurreal/internal/leader"
	"github.com/pgsurreal/pgsurreal/internal/monitor"
)

// newLease is serve's candidacy for the leader lease (ha.enabled): of the
// daemons sharing sync.slot, the one holding it runs replication and the
// transaction resolver.
func (a *app) newLease(reg prometheus.Registerer) (*leader.Lease, error) {
	return leader.New(leader.Options{
		Postgres:   a.cfg.Postgres,
		Name:       a.cfg.Sync.Slot,
		Schema:     a.cfg.Reverse.Schema,
		CheckEvery: a.cfg.HA.CheckInterval.Duration,
		Margin:     a.cfg.HA.FencingMargin.Duration,
		Log:        a.log,
		Registerer: reg,
	})
}

// runLeading runs the replication engines while this process holds the
// lease, and serves queries either way. When the engines did not stop
// in time after the lease ended, another daemon may be leading already:
// the process exits at once, so its connections close and nothing of
// it writes any more.
func (a *app) runLeading(ctx context.Context, l *leader.Lease, engines func(ctx context.Context) error) error {
	a.log.Info("standing by for the leader lease", "slot", a.cfg.Sync.Slot, "check_interval", a.cfg.HA.CheckInterval.String(), "fencing_margin", l.Margin().String(), "pid", os.Getpid())
	err := l.Run(ctx, engines)
	if errors.Is(err, leader.ErrStopTimeout) {
		a.log.Error("exiting at once: replication did not stop within the stop timeout after the leader lease ended, and another daemon may lead by now", "timeout", l.StopTimeout().String(), "pid", os.Getpid())
		os.Exit(ExitFailure)
	}
	return err
}

// roleReadiness answers /readyz by role: a standby behind a leader it
// sees needs only its databases reachable (it serves queries); any other
// daemon (the leader, one waiting the fencing margin, one that sees no
// leader) must have its replication running. The detail gains a "role"
// check saying which.
type roleReadiness struct {
	lease            *leader.Lease
	leading, standby *monitor.Readiness
}

func (r roleReadiness) Ready(ctx context.Context) (bool, any) {
	st := r.lease.Status()
	check := r.standby
	if st.Role == leader.Leader || st.Holder == "" || st.Holder == st.ID {
		check = r.leading
	}
	ok, detail := check.Ready(ctx)
	if m, isMap := detail.(map[string]monitor.Check); isMap {
		m["role"] = monitor.Check{OK: true, Detail: roleDetail(st)}
	}
	return ok, detail
}

func roleDetail(st leader.Status) string {
	since := time.Since(st.Since).Round(time.Second)
	if st.Role == leader.Leader {
		return fmt.Sprintf("leader for %s (%s): runs replication and the transaction resolver", since, st.ID)
	}
	return fmt.Sprintf("standby for %s (%s): %s", since, st.ID, st.Detail)
}

// started is when this process started (the "since" of a leader without
// a lease).
var started = time.Now()

// processStatus is GET /v1/status.
type processStatus struct {
	leader.Status
	// HA is ha.enabled: false means this process runs everything
	// without a lease.
	HA      bool   `json:"ha"`
	Version string `json:"version"`
}

// statusOf serves the lease's status, or with HA off a leader's.
func statusOf(l *leader.Lease) api.StatusFunc {
	return func(context.Context) any {
		if l == nil {
			host, _ := os.Hostname()
			return processStatus{Status: leader.Status{Role: leader.Leader, ID: fmt.Sprintf("%s:%d", host, os.Getpid()), PID: os.Getpid(), Since: started,
				Detail: "ha.enabled is false: this process runs replication and the transaction resolver without a lease"}, Version: buildinfo.String()}
		}
		return processStatus{Status: l.Status(), HA: true, Version: buildinfo.String()}
	}
}

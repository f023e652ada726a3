package monitor

import (
	"context"
	"fmt"
	"strings"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// DefaultCheckTimeout bounds each readiness check (the API gives the
// whole of /readyz 5s).
const DefaultCheckTimeout = 3 * time.Second

// Direction is one replication direction as readiness sees it: the
// gauges its pipeline owns.
type Direction struct {
	// Running is pgsurreal_sync_running or pgsurreal_reverse_running.
	Running prometheus.Gauge
	// Lag is pgsurreal_sync_lag_seconds or pgsurreal_reverse_lag_seconds;
	// nil skips the lag check.
	Lag prometheus.Gauge
}

// ReadinessOptions say what "ready" requires. A nil pool or direction
// leaves its checks out.
type ReadinessOptions struct {
	PG *pgxpool.Pool
	// Postgres names the server in messages (host, port, database,
	// user; never the password). Zero: taken from the pool.
	Postgres config.Postgres
	Surreal  *surreal.Pool
	// SurrealConfig names the server in messages (the URL, redacted).
	SurrealConfig config.Surreal
	// Sync and Reverse are the directions serve runs.
	Sync, Reverse *Direction
	// LagThreshold is alerts.lag_threshold: more lag is not ready.
	// 0 skips the lag checks.
	LagThreshold time.Duration
	// Timeout bounds each check; 0 means DefaultCheckTimeout (3s).
	Timeout time.Duration
}

// Check is one readiness check's outcome, as /readyz serves it.
type Check struct {
	OK bool `json:"ok"`
	// Detail says what was found, and when not OK what to do.
	Detail string `json:"detail"`
}

// Readiness answers /readyz (api.Readiness).
type Readiness struct {
	o ReadinessOptions
}

// NewReadiness returns the readiness check o describes.
func NewReadiness(o ReadinessOptions) *Readiness {
	if o.Timeout <= 0 {
		o.Timeout = DefaultCheckTimeout
	}
	if o.PG != nil && o.Postgres.Host == "" {
		cc := o.PG.Config().ConnConfig
		o.Postgres.Host, o.Postgres.Port, o.Postgres.Database, o.Postgres.User = cc.Host, int(cc.Port), cc.Database, cc.User
		o.Postgres.ConnectTimeout.Duration = cc.ConnectTimeout
	}
	return &Readiness{o: o}
}

// Ready runs every check concurrently. detail is a map[string]Check by
// check name: postgres, surreal, sync, sync_lag, reverse, reverse_lag.
func (r *Readiness) Ready(ctx context.Context) (bool, any) {
	type named struct {
		name string
		fn   func(context.Context) Check
	}
	var checks []named
	if r.o.PG != nil {
		checks = append(checks, named{"postgres", r.checkPG})
	}
	if r.o.Surreal != nil {
		checks = append(checks, named{"surreal", r.checkSurreal})
	}
	for _, d := range []struct {
		name, what string
		dir        *Direction
	}{{"sync", "PostgreSQL to SurrealDB replication (sync)", r.o.Sync}, {"reverse", "SurrealDB to PostgreSQL replication (reverse)", r.o.Reverse}} {
		if d.dir == nil {
			continue
		}
		checks = append(checks, named{d.name, func(context.Context) Check { return running(d.what, d.dir.Running) }})
		if d.dir.Lag != nil && r.o.LagThreshold > 0 {
			checks = append(checks, named{d.name + "_lag", func(context.Context) Check {
				return lagUnder(d.what, d.dir.Lag, r.o.LagThreshold)
			}})
		}
	}
	out := make(map[string]Check, len(checks))
	var mu gosync.Mutex
	var wg gosync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
			defer cancel()
			res := c.fn(cctx)
			mu.Lock()
			out[c.name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	ok := true
	for _, c := range out {
		ok = ok && c.OK
	}
	return ok, out
}

func (r *Readiness) checkPG(ctx context.Context) Check {
	start := time.Now()
	var one int
	err := r.o.PG.QueryRow(ctx, "SELECT 1").Scan(&one)
	if err != nil {
		if ctx.Err() != nil {
			return Check{Detail: fmt.Sprintf("PostgreSQL at %s:%d did not answer SELECT 1 within %s: check that it runs and is reachable from this host (postgres.host, postgres.port), and its load", r.o.Postgres.Host, r.o.Postgres.Port, r.o.Timeout)}
		}
		msg := postgres.Explain(r.o.Postgres, err)
		if !strings.Contains(msg, "postgres.") {
			msg += "; check that PostgreSQL is running and reachable at postgres.host, postgres.port"
		}
		return Check{Detail: msg}
	}
	return Check{OK: true, Detail: fmt.Sprintf("PostgreSQL at %s:%d answered in %s", r.o.Postgres.Host, r.o.Postgres.Port, roundDur(time.Since(start)))}
}

func (r *Readiness) checkSurreal(ctx context.Context) Check {
	took, err := probeSurreal(ctx, r.o.Surreal)
	if err != nil {
		if ctx.Err() != nil {
			return Check{Detail: fmt.Sprintf("SurrealDB at %s did not answer RETURN 1 within %s: check that it runs and is reachable from this host (surreal.url), and its load", surreal.Redact(r.o.SurrealConfig.URL), r.o.Timeout)}
		}
		return Check{Detail: explainSurreal(r.o.SurrealConfig, err)}
	}
	return Check{OK: true, Detail: fmt.Sprintf("SurrealDB at %s answered in %s", surreal.Redact(r.o.SurrealConfig.URL), roundDur(took))}
}

// explainSurreal names the server and the fix. A failed reconnect
// already carries surreal.Explain's sentence: that one is kept alone.
func explainSurreal(cfg config.Surreal, err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "cannot reach SurrealDB at"); i >= 0 {
		return msg[i:]
	}
	msg = surreal.Explain(cfg, err)
	if !strings.Contains(msg, "surreal.") {
		msg += "; check that SurrealDB is running and reachable at surreal.url (`pgsurreal dev up` starts the dev server)"
	}
	return msg
}

func running(what string, g prometheus.Gauge) Check {
	v, ok := gaugeValue(g)
	switch {
	case !ok:
		return Check{Detail: what + ": no running gauge to read (a wiring bug in serve)"}
	case v >= 1:
		return Check{OK: true, Detail: what + " is running"}
	}
	return Check{Detail: what + " is not running (stopped, or reconnecting to a database): the log of pgsurreal serve names the error and its fix; a stopped pipeline needs a restart of serve"}
}

func lagUnder(what string, g prometheus.Gauge, threshold time.Duration) Check {
	v, ok := gaugeValue(g)
	if !ok {
		return Check{Detail: what + ": no lag gauge to read (a wiring bug in serve)"}
	}
	lag := time.Duration(v * float64(time.Second))
	if lag > threshold {
		return Check{Detail: fmt.Sprintf("%s lags %s behind, more than alerts.lag_threshold (%s): check that both databases are healthy and the apply rate in the dashboard, or raise alerts.lag_threshold", what, roundDur(lag), threshold)}
	}
	return Check{OK: true, Detail: fmt.Sprintf("%s lag %s (threshold %s)", what, roundDur(lag), threshold)}
}

// gaugeValue reads a gauge's current value.
func gaugeValue(g prometheus.Gauge) (float64, bool) {
	if g == nil {
		return 0, false
	}
	var m dto.Metric
	if err := g.Write(&m); err != nil || m.Gauge == nil {
		return 0, false
	}
	return m.Gauge.GetValue(), true
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

package cli

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/alert"
	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/buildinfo"
	"github.com/pgsurreal/pgsurreal/internal/dashboard"
	"github.com/pgsurreal/pgsurreal/internal/leader"
	"github.com/pgsurreal/pgsurreal/internal/maintenance"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/monitor"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/publish"
	pgreverse "github.com/pgsurreal/pgsurreal/internal/reverse"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// engineMetrics are the replication engines' metrics, made before the
// front so readiness can watch them; nil for a direction not run.
type engineMetrics struct {
	sync    *pgsync.Metrics
	reverse *pgreverse.Metrics
	// lease is serve's leader lease (nil with ha.enabled off and for
	// sync and reverse alone): readiness and /v1/status report its role.
	lease *leader.Lease
	// publish is sync's change stream on NATS JetStream (nil when off).
	publish *publish.Publisher
}

// observed is what startObservability hands the HTTP server.
type observed struct {
	ready     api.Readiness
	dashboard http.Handler
	status    api.StatusFunc
}

// startObservability registers the database and disk collectors and the
// readiness checks; for serve (queries) also the alert evaluator and the
// web dashboard.
func (a *app) startObservability(ctx context.Context, reg *prometheus.Registry, f *front, em engineMetrics, sched *maintenance.Scheduler, queries bool) (observed, error) {
	pg, sp, closeAll, err := a.openPools(ctx)
	if err != nil {
		return observed{}, fmt.Errorf("monitoring: %w", err)
	}
	f.closers = append(f.closers, closeAll)
	tables := &replicated{a: a, pg: pg, sp: sp}
	disks := slices.Clone(a.cfg.Alerts.DiskPaths)
	if a.cfg.Backup.Dir != "" {
		disks = append(disks, a.cfg.Backup.Dir)
	}
	if err := monitor.Register(reg, monitor.Options{PG: pg, Surreal: sp, TablesFunc: tables.surrealTables, DiskPaths: disks, Log: a.log}); err != nil {
		return observed{}, err
	}
	ro := monitor.ReadinessOptions{PG: pg, Postgres: a.cfg.Postgres, Surreal: sp, SurrealConfig: a.cfg.Surreal, LagThreshold: a.cfg.Alerts.LagThreshold.Duration}
	if em.sync != nil {
		ro.Sync = &monitor.Direction{Running: em.sync.Running, Lag: em.sync.LagSeconds}
	}
	if em.reverse != nil {
		ro.Reverse = &monitor.Direction{Running: em.reverse.Running, Lag: em.reverse.LagSeconds}
	}
	out := observed{ready: monitor.NewReadiness(ro), status: statusOf(em.lease)}
	if em.lease != nil {
		standby := ro
		standby.Sync, standby.Reverse = nil, nil
		out.ready = roleReadiness{lease: em.lease, leading: monitor.NewReadiness(ro), standby: monitor.NewReadiness(standby)}
	}
	if !queries {
		return out, nil
	}
	ev, err := alert.New(alert.Options{Config: a.cfg.Alerts, Gatherer: reg, Registerer: reg, Log: a.log})
	if err != nil {
		return observed{}, err
	}
	f.runs = append(f.runs, namedRun{name: "alerts", run: ev.Run})
	do := dashboard.Options{Gatherer: reg, Log: a.log, Version: buildinfo.String(), Tables: tables.counts, Alerts: alertStatus(ev)}
	if sched != nil {
		do.Maintenance = sched
	}
	out.dashboard = dashboard.New(do)
	return out, nil
}

// alertStatus adapts the evaluator for the dashboard.
func alertStatus(ev *alert.Evaluator) dashboard.AlertSource {
	return dashboard.AlertFunc(func() dashboard.AlertStatus {
		var st dashboard.AlertStatus
		for _, x := range ev.Active() {
			since := x.FiredAt
			if since.IsZero() {
				since = x.ActiveAt
			}
			st.Active = append(st.Active, dashboard.Alert{Name: x.Name, State: x.State, Severity: x.Labels["severity"], Summary: x.Summary, Labels: x.Labels, Since: since})
		}
		for _, e := range ev.Recent() {
			st.Recent = append(st.Recent, dashboard.AlertEvent{Time: e.Time, Name: e.Alert, State: e.Status, Severity: e.Labels["severity"], Summary: e.Summary, Labels: e.Labels})
		}
		return st
	})
}

// replicated lists the replicated tables (forward from the sync
// configuration, reverse from reverse.tables) and counts both sides for
// the dashboard.
type replicated struct {
	a  *app
	pg *pgxpool.Pool

	sp *surreal.Pool

	mu     sync.Mutex
	list   []dashboard.TableCount
	listed time.Time
}

// tablesEvery is how often the list of forward tables is read again
// (tables created while serve runs join the sync).
const tablesEvery = time.Minute

func (r *replicated) tables(ctx context.Context) []dashboard.TableCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.list != nil && time.Since(r.listed) < tablesEvery {
		return slices.Clone(r.list)
	}
	var out []dashboard.TableCount
	twoWay := map[string]bool{}
	for _, t := range r.a.cfg.Reverse.Tables {
		dir := dashboard.Reverse
		if t.TwoWay {
			dir = dashboard.TwoWay
			twoWay[t.TargetName()] = true
		}
		out = append(out, dashboard.TableCount{Table: t.TargetName(), Surreal: t.Name, Direction: dir})
	}
	sc := r.a.syncOptions().Sync
	if len(sc.Include) > 0 {
		if tables, shapes, err := mapping.ForwardShapes(ctx, r.pg, sc); err == nil {
			for _, t := range tables {
				if twoWay[t.QualifiedName()] {
					continue
				}
				out = append(out, dashboard.TableCount{Table: t.QualifiedName(), Surreal: shapes[t.QualifiedName()].Target, Direction: dashboard.Forward})
			}
		}
	}
	r.list, r.listed = out, time.Now()
	return slices.Clone(out)
}

// surrealTables are the SurrealDB tables whose records the monitor counts.
func (r *replicated) surrealTables() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for _, t := range r.tables(ctx) {
		out = append(out, t.Surreal)
	}
	return out
}

// counts counts the rows and records of every replicated table.
func (r *replicated) counts(ctx context.Context) ([]dashboard.TableCount, error) {
	list := r.tables(ctx)
	for i := range list {
		t := &list[i]
		t.PostgresRows, t.SurrealRecords = dashboard.Unknown, dashboard.Unknown
		schema, name, _ := cutQualified(t.Table)
		if err := r.pg.QueryRow(ctx, "SELECT count(*) FROM "+postgres.QualifiedIdent(schema, name)).Scan(&t.PostgresRows); err != nil {
			t.PostgresRows = dashboard.Unknown
		}
		if n, err := r.surrealCount(ctx, t.Surreal); err == nil {
			t.SurrealRecords = n
		}
	}
	return list, nil
}

func (r *replicated) surrealCount(ctx context.Context, table string) (int64, error) {
	var n int64
	err := r.sp.Do(ctx, func(ctx context.Context, cl *surreal.Client) error {
		res, err := surrealdb.Query[[]struct {
			N int64 `json:"n"`
		}](ctx, cl.DB, "SELECT count() AS n FROM type::table($t) GROUP ALL", map[string]any{"t": table})
		if err != nil {
			return err
		}
		if len(*res) > 0 && len((*res)[0].Result) > 0 {
			n = (*res)[0].Result[0].N
		}
		return nil
	})
	return n, err
}

func cutQualified(name string) (string, string, bool) {
	if i := slices.Index([]byte(name), '.'); i >= 0 {
		return name[:i], name[i+1:], true
	}
	return "public", name, false
}

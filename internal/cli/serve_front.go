package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/maintenance"
	"github.com/pgsurreal/pgsurreal/internal/pgwire"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

// shutdownGrace is how long in-flight HTTP requests may finish once serve
// stops.
const shutdownGrace = 10 * time.Second

// namedRun is a server that runs next to the engines until ctx ends; an
// error it returns stops serve.
type namedRun struct {
	name string
	run  func(ctx context.Context) error
}

// front is what answers clients in front of the engines: the HTTP server
// on http.listen (the query API when federated queries are on, /metrics
// and /healthz always) and, for serve, the federation engine and the
// PostgreSQL wire protocol server on federation.listen.
type front struct {
	// runs are the servers to run with the engines (the wire server).
	runs []namedRun
	// leaderRuns run with the replication engines, only while this
	// process leads (the transaction resolver).
	leaderRuns []namedRun
	// applied and changed, set when federation.cache.redis is, are the
	// sync's and the reverse direction's hooks that invalidate the
	// federation cache after each commit.
	applied func(ctx context.Context, tables []string, lsn uint64)
	changed func(ctx context.Context, tables []string)
	// closers undo what was opened, last first.
	closers []func()
}

// stop shuts the HTTP server down (letting requests finish for
// shutdownGrace), then closes the engine and its connections.
func (f *front) stop() {
	for i := len(f.closers) - 1; i >= 0; i-- {
		f.closers[i]()
	}
}

// startFront opens what answers clients next to the replication engines,
// before they start, so a busy address or an unreachable database stops
// the command at once. With queries false (sync and reverse alone) the
// HTTP server serves /metrics and /healthz and the query API answers 503.
// The cache invalidation hooks are opened in every case: the sync and
// reverse processes are what keeps a shared cache right.
func (a *app) startFront(ctx context.Context, reg *prometheus.Registry, queries bool, em engineMetrics) (*front, error) {
	f := &front{}
	if err := a.openInvalidator(ctx, f); err != nil {
		return nil, err
	}
	var engine *federation.Engine
	var coord *txn.Coordinator
	if queries {
		e, err := a.openEngine(ctx, reg, f)
		if err != nil {
			f.stop()
			return nil, err
		}
		engine = e
		if coord, err = a.startTx(ctx, reg, f); err != nil {
			f.stop()
			return nil, err
		}
	}
	var sched *maintenance.Scheduler
	if queries {
		var err error
		if sched, err = a.startMaintenance(reg, f); err != nil {
			f.stop()
			return nil, err
		}
	}
	obs, err := a.startObservability(ctx, reg, f, em, sched, queries)
	if err != nil {
		f.stop()
		return nil, err
	}
	if err := a.serveHTTP(ctx, reg, engine, coord, sched, obs, f); err != nil {
		f.stop()
		return nil, err
	}
	if queries {
		if err := a.startWire(reg, engine, f); err != nil {
			f.stop()
			return nil, err
		}
	}
	return f, nil
}

// resolveEvery is how often serve finishes in-doubt distributed
// transactions (also once at start).
const resolveEvery = 10 * time.Second

// inDoubtAlert is the age past which a transaction still waiting for its
// coordinator is logged as an error (the metric
// pgsurreal_tx_oldest_in_doubt_seconds is there for alert rules).
const inDoubtAlert = 5 * time.Minute

// startTx starts the distributed transactions' coordinator (POST /v1/tx)
// and runs their resolver with the replication engines (only while this
// process leads, under the leader lease): at start and every
// resolveEvery. A failed pass is logged and retried; it does not stop
// serve.
func (a *app) startTx(ctx context.Context, reg *prometheus.Registry, f *front) (*txn.Coordinator, error) {
	pg, sp, closeAll, err := a.openPools(ctx)
	if err != nil {
		return nil, fmt.Errorf("distributed transactions: %w", err)
	}
	f.closers = append(f.closers, closeAll)
	o := txn.Options{PG: pg, Surreal: sp, Schema: a.cfg.Reverse.Schema, Log: a.log, Metrics: txn.NewMetrics(reg)}
	coord, err := txn.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("distributed transactions: %w", err)
	}
	f.closers = append(f.closers, func() { _ = coord.Close(context.WithoutCancel(ctx)) })
	f.leaderRuns = append(f.leaderRuns, namedRun{name: "transaction resolver", run: func(ctx context.Context) error {
		t := time.NewTicker(resolveEvery)
		defer t.Stop()
		for {
			rep, err := txn.Recover(ctx, o)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				a.log.Warn("transaction resolver pass failed; retrying", "err", err)
			case rep.Committed+rep.RolledBack > 0:
				a.log.Info("finished in-doubt distributed transactions", "committed", rep.Committed, "rolled_back", rep.RolledBack, "waiting", rep.Waiting)
			}
			if rep.Waiting > 0 && rep.Oldest > inDoubtAlert {
				a.log.Error("a distributed transaction has been in doubt too long: a prepared PostgreSQL transaction holds its locks and holds back VACUUM; check its coordinator (pgsurreal_tx_oldest_in_doubt_seconds)",
					"oldest", rep.Oldest.Round(time.Second).String(), "waiting", rep.Waiting)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}})
	return coord, nil
}

// openInvalidator connects the change streams to the federation cache
// when federation.cache.redis is set.
func (a *app) openInvalidator(ctx context.Context, f *front) error {
	if a.cfg.Federation.Cache.Redis == "" {
		return nil
	}
	iv, err := federation.NewInvalidator(ctx, a.cfg.Federation.Cache, a.log)
	if err != nil {
		return err
	}
	f.closers = append(f.closers, func() { _ = iv.Close() })
	f.applied, f.changed = iv.Applied, iv.Changed
	return nil
}

// openEngine builds the federation engine over pools of its own, so
// queries never wait behind replication.
func (a *app) openEngine(ctx context.Context, reg *prometheus.Registry, f *front) (*federation.Engine, error) {
	pg, sp, closeAll, err := a.openPools(ctx)
	if err != nil {
		return nil, fmt.Errorf("federated queries: %w", err)
	}
	f.closers = append(f.closers, closeAll)
	engine, err := federation.New(ctx, federation.Options{PG: pg, Surreal: sp, Servers: a.cfg.Surreal, Sync: a.cfg.Sync, Config: a.cfg.Federation, Slot: a.cfg.Sync.Slot, Log: a.log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("federated queries: %w", err)
	}
	f.closers = append(f.closers, func() { _ = engine.Close() })
	return engine, nil
}

// serveHTTP serves the API, /metrics and /healthz on http.listen.
func (a *app) serveHTTP(ctx context.Context, reg *prometheus.Registry, engine *federation.Engine, coord *txn.Coordinator, sched *maintenance.Scheduler, obs observed, f *front) error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("cannot serve metrics on http.listen %s: %w; choose a free address with --set http.listen=127.0.0.1:PORT", a.cfg.HTTP.Listen, err)
	}
	timeout := api.DefaultTimeout
	handler := api.New(api.Options{Token: a.cfg.HTTP.Token, Engine: engine, Tx: coord, Maintenance: sched, Readiness: obs.ready, Status: obs.status, Dashboard: obs.dashboard, Registry: reg, Log: a.log, Timeout: timeout})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      timeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP server stopped", "err", err)
		}
	}()
	url := "http://" + ln.Addr().String()
	a.log.Info("serving metrics", "url", url+"/metrics")
	if engine != nil {
		a.log.Info("serving the query API", "url", url+"/v1/query")
		if a.cfg.HTTP.Token == "" {
			a.log.Warn("http.token is empty: /v1/query refuses every request; set http.token (or PGSURREAL_HTTP_TOKEN) to use it")
		}
	}
	f.closers = append(f.closers, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	})
	return nil
}

// startWire listens on federation.listen for PostgreSQL clients unless it
// is "off"; the server then runs with the engines.
func (a *app) startWire(reg *prometheus.Registry, engine *federation.Engine, f *front) error {
	fc := a.cfg.Federation
	if fc.Listen == "off" {
		return nil
	}
	srv, err := pgwire.Listen(pgwire.Options{
		Listen: fc.Listen, User: fc.User, Password: fc.Password, Auth: fc.Auth,
		TLSCert: fc.TLSCert, TLSKey: fc.TLSKey,
		Postgres: a.cfg.Postgres, Engine: engine, Log: a.log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	a.log.Info("serving the PostgreSQL protocol", "addr", srv.Addr().String(), "user", fc.User, "auth", fc.Auth, "tls", fc.TLSCert != "")
	f.runs = append(f.runs, namedRun{name: "pgwire", run: srv.Serve})
	return nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgsurreal/pgsurreal/internal/progress"
	pgreverse "github.com/pgsurreal/pgsurreal/internal/reverse"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

func (a *app) syncCommand() *cobra.Command {
	var resync bool
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Replicate PostgreSQL into SurrealDB: snapshot, then stream changes (runs until stopped)",
		Long: `sync keeps SurrealDB a live copy of the tables sync.include selects: the
first run creates a publication and a logical replication slot, copies every
table under the slot's snapshot, then streams changes from the slot. Later
runs resume from the position stored in SurrealDB. Prometheus metrics are
served on http.listen at /metrics.

--resync drops the slot and the stored position and copies everything again:
the remedy when the slot was lost or the target wiped.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runSync(cmd.Context(), resync) },
	}
	cmd.Flags().BoolVar(&resync, "resync", false, "drop the slot and stored position, then snapshot again")
	return cmd
}

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the pgsurreal daemon: replication, federated queries over HTTP and the PostgreSQL protocol, metrics (runs until stopped)",
		Long: `serve runs every engine of pgsurreal in one process until it is stopped
(SIGINT/SIGTERM): the PostgreSQL -> SurrealDB replication of ` + "`pgsurreal sync`" + `
and, when reverse.tables lists tables, the SurrealDB -> PostgreSQL replication
of ` + "`pgsurreal reverse`" + `. It answers federated SQL (tables of schema
surreal read from SurrealDB) over HTTP at POST /v1/query on http.listen (with
the bearer token http.token) and over the PostgreSQL wire protocol on
federation.listen ("off" disables it), and serves Prometheus metrics at
/metrics and a health check at /healthz on http.listen. If one engine or
server stops with an error, serve stops the others and exits with that error.
See docs/federation.md.

Several serve processes may run against the same databases and sync.slot
(ha.enabled, the default): the one holding the leader lease, a PostgreSQL
advisory lock, runs both replication directions and the transaction
resolver; the others answer queries and take over within seconds when it
dies. GET /v1/status and /readyz say which role a process has. See "High
availability" in docs/operations.md.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			return a.runEnginesLoaded(cmd.Context(), true, len(a.cfg.Reverse.Tables) > 0, false, true)
		},
	}
}

func (a *app) reverseCommand() *cobra.Command {
	var resync bool
	cmd := &cobra.Command{
		Use:   "reverse",
		Short: "Replicate SurrealDB tables into PostgreSQL from their changefeeds (runs until stopped)",
		Long: `reverse keeps PostgreSQL tables a live copy of the SurrealDB tables
reverse.tables lists: it enables a changefeed on each, creates missing
PostgreSQL tables from the SurrealDB table's shape, copies the current records
once, then applies every change in versionstamp order, each SurrealDB
transaction atomically, storing the versionstamp reached in PostgreSQL in the
same transaction. See docs/reverse.md.

--resync copies every table again and streams from then on: the remedy when
reverse was stopped for longer than reverse.retention.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runEngines(cmd.Context(), false, true, resync) },
	}
	cmd.Flags().BoolVar(&resync, "resync", false, "copy every table again, then stream from now")
	return cmd
}

// runSync runs the forward pipeline with its metrics server until ctx
// ends.
func (a *app) runSync(ctx context.Context, resync bool) error {
	if err := a.load(); err != nil {
		return err
	}
	return a.runEnginesLoaded(ctx, true, false, resync, false)
}

// runEngines runs the forward (sync) and reverse pipelines asked for,
// with the metrics server, until ctx ends or one of them fails.
func (a *app) runEngines(ctx context.Context, forward, reverse, resync bool) error {
	if err := a.load(); err != nil {
		return err
	}
	return a.runEnginesLoaded(ctx, forward, reverse, resync, false)
}

// runEnginesLoaded runs the engines asked for next to the HTTP server;
// queries (serve) adds the federation engine, its query API and the wire
// server, and with ha.enabled runs the replication engines and the
// transaction resolver only while this process holds the leader lease.
func (a *app) runEnginesLoaded(ctx context.Context, forward, reverse, resync, queries bool) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var em engineMetrics
	if forward {
		em.sync = pgsync.NewMetrics(reg)
		pub, err := a.openPublisher(reg)
		if err != nil {
			return err
		}
		if pub != nil {
			defer pub.Close()
			em.publish = pub
		}
	}
	if reverse {
		em.reverse = pgreverse.NewMetrics(reg)
	}
	if queries && a.cfg.HA.Enabled {
		l, err := a.newLease(reg)
		if err != nil {
			return err
		}
		em.lease = l
	}
	servers, err := a.startFront(ctx, reg, queries, em)
	if err != nil {
		return err
	}
	defer servers.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan namedResult, 1+len(servers.runs))
	for _, r := range servers.runs {
		go func() { results <- namedResult{r.name, r.run(ctx)} }()
	}
	engines := func(ctx context.Context) error { return a.runReplication(ctx, forward, reverse, resync, em, servers) }
	if em.lease != nil {
		go func() { results <- namedResult{"leader lease", a.runLeading(ctx, em.lease, engines)} }()
	} else {
		go func() { results <- namedResult{"replication", engines(ctx)} }()
	}
	return a.collect(results, 1+len(servers.runs), cancel)
}

// namedResult is what a run of serve ended with.
type namedResult struct {
	name string
	err  error
}

// collect waits for n runs; the first error cancels the others and is
// returned once all have stopped.
func (a *app) collect(results <-chan namedResult, n int, cancel context.CancelFunc) error {
	var first error
	for range n {
		r := <-results
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			if first == nil {
				first = r.err
			}
			cancel()
			continue
		}
		a.log.Info(r.name + " stopped")
	}
	return first
}

// runReplication runs what only one daemon may run at a time: the sync
// and reverse pipelines asked for and the leader's runs of the front
// (the transaction resolver), until ctx ends or one of them fails. Under
// the leader lease it may run again after a loss: the pipelines resume
// from their stored positions.
func (a *app) runReplication(ctx context.Context, forward, reverse, resync bool, em engineMetrics, servers *front) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan namedResult, 2+len(servers.leaderRuns))
	running := 0
	for _, r := range servers.leaderRuns {
		running++
		go func() { results <- namedResult{r.name, r.run(ctx)} }()
	}
	if forward {
		o := a.syncOptions()
		o.Resync = resync && !reverse
		o.Metrics = em.sync
		o.Applied = servers.applied
		if em.lease != nil {
			o.Epoch = em.lease.Epoch()
		}
		if em.publish != nil {
			o.Publisher = em.publish
		}
		a.log.Info("sync starting", "postgres", a.cfg.Postgres.Redacted(), "surreal", a.cfg.Surreal.URL, "slot", a.cfg.Sync.Slot)
		running++
		go func() { results <- namedResult{"sync", pgsync.Run(ctx, o)} }()
	}
	if reverse {
		o := reverseOptions(a)
		o.Resync = resync && !forward
		o.Metrics = em.reverse
		o.Changed = servers.changed
		if em.lease != nil {
			o.Lease, o.Epoch = a.cfg.Sync.Slot, em.lease.Epoch()
		}
		a.log.Info("reverse starting", "postgres", a.cfg.Postgres.Redacted(), "surreal", a.cfg.Surreal.URL, "tables", len(a.cfg.Reverse.Tables))
		running++
		go func() { results <- namedResult{"reverse", pgreverse.Run(ctx, o)} }()
	}
	return a.collect(results, running, cancel)
}

func reverseOptions(a *app) pgreverse.Options {
	return pgreverse.Options{Postgres: a.cfg.Postgres, Surreal: a.cfg.Surreal, Reverse: a.cfg.Reverse, Log: a.log}
}

func (a *app) snapshotCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot",
		Short: "Copy the selected tables into SurrealDB once, consistently, and exit",
		Long: `snapshot copies the tables sync.include selects into SurrealDB as of one
consistent PostgreSQL snapshot, replacing the target tables, and exits. It
creates no slot and stores no position: use it to seed or refresh a target
that no running sync maintains.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			start := time.Now()
			rows, err := pgsync.Snapshot(cmd.Context(), a.syncOptions())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "copied %d rows in %s\n", rows, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

func (a *app) syncOptions() pgsync.Options {
	o := pgsync.Options{Postgres: a.cfg.Postgres, Surreal: a.cfg.Surreal, Sync: a.cfg.Sync, Log: a.log, SkipOrigin: a.cfg.Reverse.OriginFor(a.cfg.Postgres.Database)}
	// Tables the reverse direction fills (one way) are not replicated
	// forward: they would come back to SurrealDB as copies of themselves.
	o.Sync.Exclude = slices.Clone(o.Sync.Exclude)
	for _, t := range a.cfg.Reverse.Tables {
		if !t.TwoWay {
			o.Sync.Exclude = append(o.Sync.Exclude, t.TargetName())
		}
	}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = progressBars(a.stderr)
	}
	return o
}

// progressBars draws the bars of a snapshot or a verify, one per table
// (see barDrawer).
func progressBars(w io.Writer) progress.Func {
	draw := barDrawer(w, "rows")
	return func(tables []progress.Table, final bool) {
		bars := make([]bar, len(tables))
		for i, t := range tables {
			bars[i] = bar{name: t.Table, done: t.Rows, total: t.Estimated, elapsed: t.Elapsed}
		}
		draw(bars, final)
	}
}

// bar is one line of progress.
type bar struct {
	name        string
	done, total int64
	elapsed     time.Duration
}

// barDrawer draws one bar per line on a terminal, redrawn in place.
func barDrawer(w io.Writer, unit string) func(bars []bar, final bool) {
	drawn := 0
	return func(bars []bar, final bool) {
		var b strings.Builder
		if drawn > 0 {
			fmt.Fprintf(&b, "\x1b[%dA", drawn)
		}
		for _, t := range bars {
			rate := float64(t.done) / max(t.elapsed.Seconds(), 0.001)
			frac := 1.0
			if t.total > 0 && !final {
				frac = min(1, float64(t.done)/float64(t.total))
			}
			eta := "-"
			if rate > 0 && t.total > t.done && !final {
				eta = (time.Duration(float64(t.total-t.done)/rate) * time.Second).Round(time.Second).String()
			}
			filled := int(frac * 30)
			fmt.Fprintf(&b, "\x1b[2K%-32s [%s%s] %10d %s %8.0f %s/s ETA %s\n",
				truncate(t.name, 32), strings.Repeat("=", filled), strings.Repeat(" ", 30-filled), t.done, unit, rate, unit, eta)
		}
		drawn = len(bars)
		_, _ = io.WriteString(w, b.String())
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

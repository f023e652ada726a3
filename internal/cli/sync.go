package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/term"

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
		Short: "Run the pgsurreal daemon: replication, with metrics and health on http.listen (runs until stopped)",
		Long: `serve runs every engine of pgsurreal in one process until it is stopped
(SIGINT/SIGTERM). Today that is the PostgreSQL -> SurrealDB replication of
` + "`pgsurreal sync`" + `, with Prometheus metrics at /metrics and a health check
at /healthz on http.listen.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runSync(cmd.Context(), false) },
	}
}

// runSync runs the replication pipeline with its metrics server until
// ctx ends.
func (a *app) runSync(ctx context.Context, resync bool) error {
	if err := a.load(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	stop, err := a.serveMetrics(ctx, reg)
	if err != nil {
		return err
	}
	defer stop()
	o := a.syncOptions()
	o.Resync = resync
	o.Metrics = pgsync.NewMetrics(reg)
	a.log.Info("sync starting", "postgres", a.cfg.Postgres.Redacted(), "surreal", a.cfg.Surreal.URL, "slot", a.cfg.Sync.Slot)
	err = pgsync.Run(ctx, o)
	if err == nil || errors.Is(err, context.Canceled) {
		a.log.Info("sync stopped")
		return nil
	}
	return err
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
	o := pgsync.Options{Postgres: a.cfg.Postgres, Surreal: a.cfg.Surreal, Sync: a.cfg.Sync, Log: a.log}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = progressBars(a.stderr)
	}
	return o
}

// serveMetrics serves reg at http.listen/metrics until stop is called.
func (a *app) serveMetrics(ctx context.Context, reg *prometheus.Registry) (func(), error) {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("cannot serve metrics on http.listen %s: %w; choose a free address with --set http.listen=127.0.0.1:PORT", a.cfg.HTTP.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	a.log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Shutdown(context.WithoutCancel(ctx)) }, nil
}

// progressBars draws one bar per table on a terminal, redrawn in place.
func progressBars(w io.Writer) pgsync.ProgressFunc {
	drawn := 0
	return func(tables []pgsync.TableProgress, final bool) {
		var b strings.Builder
		if drawn > 0 {
			fmt.Fprintf(&b, "\x1b[%dA", drawn)
		}
		for _, t := range tables {
			rate := float64(t.Rows) / max(t.Elapsed.Seconds(), 0.001)
			frac := 1.0
			if t.Estimated > 0 && !final {
				frac = min(1, float64(t.Rows)/float64(t.Estimated))
			}
			eta := "-"
			if rate > 0 && t.Estimated > t.Rows && !final {
				eta = (time.Duration(float64(t.Estimated-t.Rows)/rate) * time.Second).Round(time.Second).String()
			}
			filled := int(frac * 30)
			fmt.Fprintf(&b, "\x1b[2K%-32s [%s%s] %10d rows %8.0f rows/s ETA %s\n",
				truncate(t.Table, 32), strings.Repeat("=", filled), strings.Repeat(" ", 30-filled), t.Rows, rate, eta)
		}
		drawn = len(tables)
		_, _ = io.WriteString(w, b.String())
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

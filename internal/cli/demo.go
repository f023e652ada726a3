package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/demo"
	"github.com/pgsurreal/pgsurreal/internal/devstack"
)

func (a *app) demoCommand() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Load a sample shop into PostgreSQL, replicate it into SurrealDB and back, and show the result live",
		Long: `demo shows pgsurreal at work against the configured PostgreSQL and SurrealDB
(by default the dev stack: run ` + "`pgsurreal dev up`" + ` first).

It recreates the PostgreSQL database ` + demo.DefaultDatabase + ` with a sample shop and social
graph (users, products, orders, order_items, payments, friendships; about
7,000 rows), empties the SurrealDB namespace ` + demo.DefaultNamespace + ` (database ` + demo.DefaultSurrealDatabase + `),
replicates one into the other, and prints the documents, record links and
graph edges that result, the row counts of both sides, and the replication
latency of a few live changes. Then it writes reviews into SurrealDB and
replicates them the other way, into the PostgreSQL table surreal_review, and
joins them with PostgreSQL's own tables. Last, it starts a second SurrealDB
server (in memory, stopped at the end) and partitions a table over both.

The data stays in both databases afterwards. The replication slot
` + demo.DefaultSlot + ` is dropped at the end so PostgreSQL retains no WAL for it;
--keep keeps it, for a ` + "`pgsurreal sync`" + ` to continue from.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			log := a.log
			if a.logLevel == "" {
				// The pipeline's info lines would interleave with the
				// report: only warnings, unless asked with --log-level.
				log = newLogger(a.stderr, config.Log{Level: "warn", Format: a.cfg.Log.Format})
			}
			_, err := demo.Run(cmd.Context(), demo.Options{
				Postgres:     a.cfg.Postgres,
				Surreal:      a.cfg.Surreal,
				Keep:         keep,
				Out:          a.stdout,
				Color:        isTerminal(a.stdout),
				Log:          log,
				SecondServer: a.secondSurreal(log),
			})
			return err
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the replication slot (and so WAL) for a later `pgsurreal sync`")
	return cmd
}

// secondSurreal starts the demo's second SurrealDB server (the scale-out
// step) next to the dev stack: in-memory, on a free port, under
// dev.dir/surreal-eu, stopped when the step ends.
func (a *app) secondSurreal(log *slog.Logger) func(ctx context.Context) (config.Surreal, func(), error) {
	return func(ctx context.Context) (config.Surreal, func(), error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return config.Surreal{}, nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		o := devstack.Options{Dir: filepath.Join(a.cfg.Dev.Dir, "surreal-eu"), NoPostgres: true, SurrealPort: port,
			SurrealStorage: "mem", SurrealUser: a.cfg.Surreal.Username, SurrealPass: a.cfg.Surreal.Password.Reveal(),
			NodeBin: a.cfg.Dev.NodeBin, Log: log}
		if _, err := devstack.Up(ctx, o); err != nil {
			return config.Surreal{}, nil, err
		}
		c := a.cfg.Surreal
		c.URL = fmt.Sprintf("ws://127.0.0.1:%d/rpc", port)
		return c, func() { _ = devstack.Reset(context.WithoutCancel(ctx), o) }, nil
	}
}

// isTerminal reports whether w is a terminal that may be styled (not
// when NO_COLOR is set).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

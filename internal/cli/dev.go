package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/devstack"
)

func (a *app) devCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local PostgreSQL + SurrealDB pair for development, tests and the demo",
		Long: `dev manages a private PostgreSQL cluster (initdb'd under dev.dir, logical
replication and prepared transactions enabled, listening on postgres.port)
and the SurrealDB dev server (the real SurrealDB 3 engine from npm, served on
127.0.0.1:dev.surreal_port with persistent storage). Data survives down/up;
reset deletes it. Needs PostgreSQL 15+ server programs and Node.js 20+.`,
	}
	var asJSON bool
	up := &cobra.Command{
		Use:   "up",
		Short: "Start both servers (idempotent) and wait until they answer",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			st, err := devstack.Up(cmd.Context(), devstack.FromConfig(a.cfg, a.log))
			if err != nil {
				return err
			}
			return a.printDevStatus(st, asJSON)
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop both servers, keeping their data",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if err := devstack.Down(cmd.Context(), devstack.FromConfig(a.cfg, a.log)); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "dev stack stopped; data kept in", a.cfg.Dev.Dir)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show whether each server is running (exit code 1 if either is not)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			st, err := devstack.Stat(cmd.Context(), devstack.FromConfig(a.cfg, a.log))
			if err != nil {
				return err
			}
			if err := a.printDevStatus(st, asJSON); err != nil {
				return err
			}
			if !st.Postgres.Running || !st.Surreal.Running {
				return fmt.Errorf("dev stack is not fully running: start it with `pgsurreal dev up`")
			}
			return nil
		},
	}
	reset := &cobra.Command{
		Use:   "reset",
		Short: "Stop both servers and delete all their data",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if err := devstack.Reset(cmd.Context(), devstack.FromConfig(a.cfg, a.log)); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "dev stack stopped and its data deleted:", a.cfg.Dev.Dir)
			return nil
		},
	}
	for _, c := range []*cobra.Command{up, status} {
		c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	}
	cmd.AddCommand(up, down, status, reset)
	return cmd
}

func (a *app) printDevStatus(st devstack.Status, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	state := func(s devstack.ServerStatus) string {
		if s.Running {
			return fmt.Sprintf("running (pid %d)", s.PID)
		}
		return "stopped"
	}
	fmt.Fprintf(a.stdout, "PostgreSQL  %-20s %s  (password: postgres.password)\n", state(st.Postgres), st.Postgres.URL)
	fmt.Fprintf(a.stdout, "SurrealDB   %-20s %s  (user %s, password: surreal.password)\n", state(st.Surreal), st.Surreal.URL, a.cfg.Surreal.Username)
	return nil
}

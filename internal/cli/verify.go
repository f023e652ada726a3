package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// differencesError ends a verify that found differences (exit code 3).
type differencesError struct{ n int }

func (e differencesError) Error() string {
	return fmt.Sprintf("%d differences between PostgreSQL and SurrealDB (listed above); `pgsurreal verify --repair` rewrites them from each table's source", e.n)
}

func (a *app) verifyCommand() *cobra.Command {
	var tables []string
	var repair, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare PostgreSQL rows with their SurrealDB records through the mapping, and repair differences",
		Long: `verify compares every replicated table with its replica through the
mapping: PostgreSQL tables (sync.include) with their SurrealDB records, links
and edges, and SurrealDB tables (reverse.tables) with their PostgreSQL rows.
It reads both sides in key order, compares chunks of verify.chunk_rows rows
by checksum and only differing chunks row by row, then re-checks each
difference by key after replication has caught up, so changes in flight are
not reported as drift.

It prints the missing, extra and different records with their keys and
fields, and exits with code 3 when it found any. --repair rewrites each
difference from the table's source (PostgreSQL for sync tables, SurrealDB for
reverse tables) with the replication's own writes, then verifies those keys
again. See docs/operations.md.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			o := verify.Options{Config: a.cfg, Tables: tables, Repair: repair, Log: a.log}
			if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				o.Progress = progressBars(f)
			}
			rep, err := verify.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(a.stdout)
			}
			if n := rep.Differences(); n > 0 {
				return differencesError{n}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&tables, "table", nil, "verify only these tables: schema.name of a PostgreSQL table, or a SurrealDB table of reverse.tables (repeatable)")
	cmd.Flags().BoolVar(&repair, "repair", false, "rewrite the differences from each table's source and verify them again")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/doctor"
)

func (a *app) doctorCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that PostgreSQL and SurrealDB are ready for pgsurreal, and say how to fix what is not",
		Long: `doctor connects to the configured PostgreSQL and SurrealDB and checks what
pgsurreal needs. PostgreSQL: the connection, wal_level = logical, a free
replication slot and WAL sender, the REPLICATION privilege, that pg_hba.conf
accepts a replication connection, max_prepared_transactions > 0 and
track_commit_timestamp = on. SurrealDB: the connection, version 3 or newer,
the credentials and the namespace and database.

Each failed check prints the exact fix (the postgresql.conf or pg_hba.conf
line, the SQL statement, and whether a restart is needed). Checks that depend
on a failed one are skipped. Exit code 0 when every check passes, 1 when any
fails. Passwords are never printed.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			report := doctor.Run(cmd.Context(), a.cfg)
			var err error
			if asJSON {
				err = report.WriteJSON(a.stdout)
			} else {
				err = report.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if n := report.Failed(); n > 0 {
				return fmt.Errorf("%d of %d checks failed: apply the fix given for each, then run `pgsurreal doctor` again", n, len(report.Checks))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print the report as JSON: {"ok": bool, "checks": [{name, system, status, detail, fix}]}`)
	return cmd
}

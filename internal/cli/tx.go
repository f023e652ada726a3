package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

func (a *app) txCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Distributed transactions over PostgreSQL and SurrealDB",
		Args:  exactArgs(0),
	}
	cmd.AddCommand(a.txRecoverCommand())
	return cmd
}

func (a *app) txRecoverCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "recover",
		Short: "Finish pgsurreal's in-doubt distributed transactions",
		Long: `recover finishes every prepared PostgreSQL transaction of pgsurreal's in the
configured database: COMMIT PREPARED where SurrealDB holds its commit
decision, ROLLBACK PREPARED where it holds an abort, and, where it holds none
and the coordinator's lease has expired, writes the abort decision first (the
fence that keeps a late coordinator from committing) and rolls back.
Transactions whose coordinator still holds its lease are left to it. Prepared
transactions that are not pgsurreal's are never touched. See
docs/transactions.md. Exit code 1 if a transaction could not be settled
(it is retried on the next run), else 0.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			ctx := cmd.Context()
			pg, err := postgres.Connect(ctx, a.cfg.Postgres)
			if err != nil {
				return err
			}
			defer pg.Close()
			sp, err := surreal.NewPool(ctx, a.cfg.Surreal, a.log)
			if err != nil {
				return err
			}
			defer sp.Close(context.WithoutCancel(ctx))
			rep, err := txn.Recover(ctx, txn.Options{PG: pg, Surreal: sp, Schema: a.cfg.Reverse.Schema, Log: a.log})
			fmt.Fprintf(a.stdout, "in doubt: %d; committed: %d; rolled back: %d; left to their live coordinator: %d; oldest: %s; decision records removed: %d\n",
				rep.InDoubt, rep.Committed, rep.RolledBack, rep.Waiting, rep.Oldest.Round(1e6), rep.Cleaned)
			return err
		},
	}
}

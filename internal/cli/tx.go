package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/pgsurreal/pgsurreal/internal/api"

	"github.com/pgsurreal/pgsurreal/internal/txn"
)

func (a *app) txCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "tx -f steps.yaml",
		Short: "Run steps over PostgreSQL and SurrealDB as one distributed transaction",
		Long: `tx runs the steps of a YAML (or JSON) file as one transaction over both
databases: all of them are applied or none (docs/transactions.md).

  isolation: serializable          # the PostgreSQL part: read committed (default), repeatable read, serializable
  steps:
    - db: postgres
      statement: INSERT INTO orders (customer, total) VALUES ($1, $2) RETURNING id
      params: [7, "12.50"]
    - db: surreal
      statement: CREATE type::record('interaction', $order) SET customer = $customer
      params: {order: {$ref: 0.0.id}, customer: 7}   # $ref: step.row.column of an earlier result

It prints every step's result as JSON. Exit code 1 if the transaction
failed (the error names the step), 2 for a malformed file.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usagef("give the steps with -f FILE (- for standard input)")
			}
			return a.runTxFile(cmd.Context(), file)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "YAML or JSON file of steps (- for standard input)")
	cmd.AddCommand(a.txRecoverCommand())
	return cmd
}

// txFile is the steps file of `pgsurreal tx -f`.
type txFile struct {
	Isolation string     `yaml:"isolation"`
	Steps     []txn.Step `yaml:"steps"`
}

func (a *app) runTxFile(ctx context.Context, file string) error {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return usagef("reading the steps: %v", err)
	}
	var tf txFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil || len(tf.Steps) == 0 {
		return usagef("%s is not a steps file ({isolation, steps: [{db, statement, params}]}): %v", file, err)
	}
	for i := range tf.Steps {
		tf.Steps[i].Params = yamlParams(tf.Steps[i].Params)
	}
	if err := a.load(); err != nil {
		return err
	}
	pg, sp, closeAll, err := a.openPools(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	c, err := txn.Start(ctx, txn.Options{PG: pg, Surreal: sp, Schema: a.cfg.Reverse.Schema, Log: a.log})
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	res, err := c.RunSteps(ctx, txn.TxOptions{Isolation: tf.Isolation}, tf.Steps)
	if err != nil {
		return err
	}
	for i := range res {
		for _, row := range res[i].Rows {
			for k, v := range row {
				row[k] = api.TxValue(v)
			}
		}
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"steps": res})
}

// yamlParams turns YAML's map[string]any keys and values into what
// RunSteps takes (YAML gives ints and floats as such).
func yamlParams(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = yamlParams(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = yamlParams(e)
		}
		return out
	case int:
		return int64(x)
	}
	return v
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
			pg, sp, closeAll, err := a.openPools(ctx)
			if err != nil {
				return err
			}
			defer closeAll()
			rep, err := txn.Recover(ctx, txn.Options{PG: pg, Surreal: sp, Schema: a.cfg.Reverse.Schema, Log: a.log})
			fmt.Fprintf(a.stdout, "in doubt: %d; committed: %d; rolled back: %d; left to their live coordinator: %d; busy in another session (next run): %d; oldest: %s; decision records removed: %d\n",
				rep.InDoubt, rep.Committed, rep.RolledBack, rep.Waiting, rep.Busy, rep.Oldest.Round(1e6), rep.Cleaned)
			return err
		},
	}
}

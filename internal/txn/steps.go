package txn

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Step is one statement of a transaction given as data (HTTP POST /v1/tx,
// pgsurreal tx -f): run in order, all committed or none.
type Step struct {
	// DB is "postgres" or "surreal".
	DB string `json:"db" yaml:"db"`
	// Statement is SQL ($1, $2, ...) or SurrealQL ($name).
	Statement string `json:"statement" yaml:"statement"`
	// Params are the SQL statement's positional values, or the SurrealQL
	// statement's named values (an object). A value {"$ref": "S.R.C"}
	// is column (or field) C of row R of step S's result, 0-based.
	Params any `json:"params,omitempty" yaml:"params,omitempty"`
}

// StepResult is one step's result: PostgreSQL's columns, rows and command
// tag, or SurrealDB's last statement's result (its rows when it is a list
// of records).
type StepResult struct {
	Columns []string         `json:"columns,omitempty"`
	Rows    []map[string]any `json:"rows"`
	Tag     string           `json:"tag,omitempty"`
}

// StepError says which step failed.
type StepError struct {
	Step int
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %d: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// RunSteps runs steps as one distributed transaction and returns every
// step's result, or the error of the step that failed (nothing applied).
func (c *Coordinator) RunSteps(ctx context.Context, o TxOptions, steps []Step) ([]StepResult, error) {
	for i, s := range steps {
		if s.DB != "postgres" && s.DB != "surreal" {
			return nil, &StepError{i, fmt.Errorf("db %q is not postgres or surreal", s.DB)}
		}
		if strings.TrimSpace(s.Statement) == "" {
			return nil, &StepError{i, fmt.Errorf("the statement is empty")}
		}
	}
	var out []StepResult
	err := c.RunTx(ctx, o, func(ctx context.Context, tx *Tx) error {
		out = out[:0]
		for i, s := range steps {
			r, err := runStep(ctx, tx, s, out)
			if err != nil {
				return &StepError{i, err}
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

func runStep(ctx context.Context, tx *Tx, s Step, done []StepResult) (StepResult, error) {
	params, err := resolveRefs(s.Params, done)
	if err != nil {
		return StepResult{}, err
	}
	if s.DB == "postgres" {
		var args []any
		switch p := params.(type) {
		case nil:
		case []any:
			args = p
		default:
			return StepResult{}, fmt.Errorf("postgres params must be a list ($1, $2, ...), not %T", params)
		}
		rows, err := tx.PG().Query(ctx, s.Statement, args...)
		if err != nil {
			return StepResult{}, err
		}
		return pgResult(rows)
	}
	vars := map[string]any{}
	switch p := params.(type) {
	case nil:
	case map[string]any:
		vars = p
	default:
		return StepResult{}, fmt.Errorf("surreal params must be an object of named values, not %T", params)
	}
	res, err := tx.Surreal().Query(ctx, s.Statement, vars)
	if err != nil {
		return StepResult{}, err
	}
	r := StepResult{Rows: []map[string]any{}}
	if len(res) > 0 {
		switch last := res[len(res)-1].(type) {
		case []any:
			for _, e := range last {
				if m, ok := e.(map[string]any); ok {
					r.Rows = append(r.Rows, m)
				} else {
					r.Rows = append(r.Rows, map[string]any{"value": e})
				}
			}
		case map[string]any:
			r.Rows = append(r.Rows, last)
		case nil:
		default:
			r.Rows = append(r.Rows, map[string]any{"value": last})
		}
	}
	return r, nil
}

func pgResult(rows pgx.Rows) (StepResult, error) {
	defer rows.Close()
	r := StepResult{Rows: []map[string]any{}}
	for _, f := range rows.FieldDescriptions() {
		r.Columns = append(r.Columns, f.Name)
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return r, err
		}
		row := make(map[string]any, len(vals))
		for i, v := range vals {
			row[r.Columns[i]] = v
		}
		r.Rows = append(r.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	r.Tag = rows.CommandTag().String()
	return r, nil
}

// resolveRefs replaces {"$ref": "S.R.C"} values by earlier results.
func resolveRefs(v any, done []StepResult) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"]; ok && len(x) == 1 {
			return lookupRef(fmt.Sprint(ref), done)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := resolveRefs(e, done)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := resolveRefs(e, done)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

func lookupRef(ref string, done []StepResult) (any, error) {
	parts := strings.SplitN(ref, ".", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("$ref %q is not step.row.column, e.g. 0.0.id", ref)
	}
	step, err1 := strconv.Atoi(parts[0])
	row, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || step < 0 || row < 0 {
		return nil, fmt.Errorf("$ref %q is not step.row.column, e.g. 0.0.id", ref)
	}
	if step >= len(done) {
		return nil, fmt.Errorf("$ref %q names step %d, which has not run yet (only earlier steps can be referenced)", ref, step)
	}
	if row >= len(done[step].Rows) {
		return nil, fmt.Errorf("$ref %q: step %d returned %d rows", ref, step, len(done[step].Rows))
	}
	v, ok := done[step].Rows[row][parts[2]]
	if !ok {
		return nil, fmt.Errorf("$ref %q: step %d's result has no column %q", ref, step, parts[2])
	}
	return v, nil
}

package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/api"
	"github.com/pgsurreal/pgsurreal/internal/federation"
)

// queryFlags are the options of `pgsurreal query`.
type queryFlags struct {
	format      string
	consistency string
	file        string
	explain     bool
	noCache     bool
}

func (a *app) queryCommand() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   `query [flags] "SQL" [param ...]`,
		Short: "Run one SQL statement over PostgreSQL and SurrealDB tables (schema surreal) and print the result",
		Long: `query runs one PostgreSQL-dialect statement through the federation engine:
tables of schema surreal are read from SurrealDB, every other table is
PostgreSQL's, and PostgreSQL computes the answer. It connects directly to the
configured PostgreSQL and SurrealDB (no running daemon needed).

The statement is the first argument, or the contents of --file; "-" reads it
from standard input. The arguments after it are the values of $1, $2, ...,
sent as text: PostgreSQL converts each to its parameter's type.

Output formats: table (aligned, like psql, with a "(N rows)" footer), json
(an array of objects, one per row, keyed by column name; numeric as strings,
times as RFC 3339, bytea as base64) and csv (a header line, then the rows;
NULL is an empty field). A statement without a result (INSERT, UPDATE, ...)
prints its command tag in table format.

Exit code 0 on success, 1 when the statement fails (the SQLSTATE is printed,
e.g. "ERROR 42P01: relation "x" does not exist (position 15)"), 2 for a usage
or configuration error.`,
		Example: `  pgsurreal query "SELECT o.id, c.name FROM orders o JOIN surreal.customer c ON c.id = o.customer_id WHERE o.id = \$1" 42
  pgsurreal query --format json --consistency read_your_writes -f report.sql
  echo "SELECT count(*) FROM surreal.review" | pgsurreal query -
  pgsurreal query --explain "SELECT * FROM surreal.review WHERE stars >= 4"`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sql, params, err := f.statement(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			if err := a.load(); err != nil {
				return err
			}
			return a.runQuery(cmd.Context(), f, sql, params)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "table", "output format: table, json or csv")
	fl.StringVar(&f.consistency, "consistency", "", "eventual or read_your_writes (default federation.consistency)")
	fl.StringVarP(&f.file, "file", "f", "", `read the statement from this file ("-" for standard input); every argument is then a parameter`)
	fl.BoolVar(&f.explain, "explain", false, "print EXPLAIN FEDERATED's plan instead of running the statement for its rows")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the cache of SurrealDB sub-results")
	return cmd
}

// statement checks the flags and returns the SQL text and parameters.
func (f queryFlags) statement(stdin io.Reader, args []string) (string, []any, error) {
	switch f.format {
	case "table", "json", "csv":
	default:
		return "", nil, usagef("--format %q: use table, json or csv", f.format)
	}
	switch f.consistency {
	case "", federation.Eventual, federation.ReadYourWrites:
	default:
		return "", nil, usagef("--consistency %q: use %s or %s", f.consistency, federation.Eventual, federation.ReadYourWrites)
	}
	source := f.file
	if source == "" {
		if len(args) == 0 {
			return "", nil, usagef(`query needs a statement: pgsurreal query "SELECT ..." [param ...], -f FILE, or "-" for standard input`)
		}
		source, args = args[0], args[1:]
		if source != "-" {
			return source, textParams(args), nil
		}
	}
	var data []byte
	var err error
	if source == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(source)
	}
	if err != nil {
		return "", nil, usagef("reading the statement: %w", err)
	}
	sql := strings.TrimSpace(string(data))
	if sql == "" {
		return "", nil, usagef("the statement read from %s is empty", describeSource(source))
	}
	return sql, textParams(args), nil
}

func describeSource(s string) string {
	if s == "-" {
		return "standard input"
	}
	return s
}

func textParams(args []string) []any {
	params := make([]any, len(args))
	for i, s := range args {
		params[i] = s
	}
	return params
}

// runQuery connects, runs the statement and prints its result.
func (a *app) runQuery(ctx context.Context, f queryFlags, sql string, params []any) error {
	pg, sp, closeAll, err := a.openPools(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	engine, err := federation.New(ctx, federation.Options{PG: pg, Surreal: sp, Servers: a.cfg.Surreal, Sync: a.cfg.Sync, Config: a.cfg.Federation, Slot: a.cfg.Sync.Slot, Log: a.log})
	if err != nil {
		return err
	}
	if f.explain {
		sql = federation.AsExplain(sql)
	}
	res, err := engine.Query(ctx, nil, sql, params, federation.QueryOptions{Consistency: f.consistency, NoCache: f.noCache})
	if err != nil {
		return sqlError(err)
	}
	if res.Explain != nil {
		res = explainResult(res.Explain)
	}
	var buf bytes.Buffer
	switch f.format {
	case "json":
		err = writeJSONRows(&buf, res)
	case "csv":
		err = writeCSV(&buf, res)
	default:
		writeTable(&buf, res)
	}
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(buf.Bytes())
	return err
}

// sqlError prints a PostgreSQL error the way psql's users expect to read
// it, with the SQLSTATE to look up.
func sqlError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ERROR %s: %s", pgErr.Code, pgErr.Message)
	if pgErr.Position > 0 {
		fmt.Fprintf(&b, " (position %d)", pgErr.Position)
	}
	if pgErr.Detail != "" {
		b.WriteString("\nDETAIL: " + pgErr.Detail)
	}
	if pgErr.Hint != "" {
		b.WriteString("\nHINT: " + pgErr.Hint)
	}
	return &queryError{msg: b.String(), err: err}
}

type queryError struct {
	msg string
	err error
}

func (e *queryError) Error() string { return e.msg }
func (e *queryError) Unwrap() error { return e.err }

// explainResult shows a plan as psql shows EXPLAIN: one text column
// "QUERY PLAN", one row per line.
func explainResult(lines []string) *federation.Result {
	res := &federation.Result{Columns: []federation.Column{{Name: "QUERY PLAN", Type: "text"}}, Tag: "EXPLAIN"}
	for _, l := range lines {
		res.Rows = append(res.Rows, []any{l})
	}
	return res
}

// writeTable prints psql's aligned format: centered headers, numbers
// right-aligned, a "+" after a cell line that continues below, and a row
// count footer. A statement without columns prints its command tag.
func writeTable(w *bytes.Buffer, res *federation.Result) {
	if len(res.Columns) == 0 {
		fmt.Fprintln(w, res.Tag)
		return
	}
	cells := make([][][]string, len(res.Rows)) // row, column, line
	widths := make([]int, len(res.Columns))
	for j, c := range res.Columns {
		widths[j] = utf8.RuneCountInString(c.Name)
	}
	for i, row := range res.Rows {
		cells[i] = make([][]string, len(res.Columns))
		for j := range res.Columns {
			var v any
			if j < len(row) {
				v = row[j]
			}
			lines := strings.Split(cellText(res.Columns[j].Type, v), "\n")
			for _, l := range lines {
				widths[j] = max(widths[j], utf8.RuneCountInString(l))
			}
			cells[i][j] = lines
		}
	}
	var line strings.Builder
	flush := func() {
		w.WriteString(strings.TrimRight(line.String(), " "))
		w.WriteByte('\n')
		line.Reset()
	}
	for j, c := range res.Columns {
		if j > 0 {
			line.WriteByte('|')
		}
		pad := widths[j] - utf8.RuneCountInString(c.Name)
		line.WriteString(" " + strings.Repeat(" ", pad/2) + c.Name + strings.Repeat(" ", pad-pad/2) + " ")
	}
	flush()
	for j := range res.Columns {
		if j > 0 {
			line.WriteByte('+')
		}
		line.WriteString(strings.Repeat("-", widths[j]+2))
	}
	flush()
	for _, row := range cells {
		height := 1
		for _, lines := range row {
			height = max(height, len(lines))
		}
		for k := range height {
			for j, lines := range row {
				if j > 0 {
					line.WriteByte('|')
				}
				s := ""
				if k < len(lines) {
					s = lines[k]
				}
				pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(s))
				if rightAligned(res.Columns[j].Type) {
					line.WriteString(" " + pad + s)
				} else {
					line.WriteString(" " + s + pad)
				}
				if k < len(lines)-1 {
					line.WriteByte('+')
				} else {
					line.WriteByte(' ')
				}
			}
			flush()
		}
	}
	if len(res.Rows) == 1 {
		w.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(res.Rows))
	}
}

func rightAligned(typ string) bool {
	switch typ {
	case "int2", "int4", "int8", "float4", "float8", "numeric", "oid", "money":
		return true
	}
	return false
}

// writeJSONRows prints an array of objects, one per row, whose keys are
// the column names in column order; values as the HTTP API encodes them.
func writeJSONRows(w *bytes.Buffer, res *federation.Result) error {
	if len(res.Rows) == 0 {
		w.WriteString("[]\n")
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	encode := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return err
		}
		w.Truncate(w.Len() - 1) // Encode's newline
		return nil
	}
	w.WriteString("[\n")
	for i, row := range res.Rows {
		w.WriteString("  {")
		for j, c := range res.Columns {
			if j > 0 {
				w.WriteString(", ")
			}
			var v any
			if j < len(row) {
				v = row[j]
			}
			if err := encode(c.Name); err != nil {
				return err
			}
			w.WriteString(": ")
			if err := encode(api.JSONValue(c.Type, v)); err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
		}
		w.WriteString("}")
		if i < len(res.Rows)-1 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
	}
	w.WriteString("]\n")
	return nil
}

// writeCSV prints a header line of column names, then one line per row
// with values as the table format shows them (NULL as an empty field).
func writeCSV(w *bytes.Buffer, res *federation.Result) error {
	if len(res.Columns) == 0 {
		return nil
	}
	cw := csv.NewWriter(w)
	rec := make([]string, len(res.Columns))
	for j, c := range res.Columns {
		rec[j] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, row := range res.Rows {
		for j, c := range res.Columns {
			var v any
			if j < len(row) {
				v = row[j]
			}
			rec[j] = cellText(c.Type, v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cellText is a value's text as psql prints it: t/f, \x-hex bytea,
// "2006-01-02 15:04:05+00" times, {a,b} arrays, compact JSON, and NULL as
// nothing.
func cellText(typ string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "t"
		}
		return "f"
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case time.Time:
		switch typ {
		case "date":
			return x.Format("2006-01-02")
		case "timestamp":
			return x.Format("2006-01-02 15:04:05.999999")
		}
		return strings.TrimSuffix(x.Format("2006-01-02 15:04:05.999999-07:00"), ":00")
	case []any:
		if typ != "json" && typ != "jsonb" {
			return arrayText(typ, x)
		}
	}
	switch j := api.JSONValue(typ, v).(type) {
	case string:
		return j
	case nil:
		return ""
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(j); err != nil {
			return fmt.Sprint(v)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
}

// arrayText writes a PostgreSQL array literal, quoting elements as
// array_out does.
func arrayText(typ string, elems []any) string {
	elem := strings.TrimPrefix(strings.TrimSuffix(typ, "[]"), "_")
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		switch x := e.(type) {
		case nil:
			b.WriteString("NULL")
		case []any:
			b.WriteString(arrayText(typ, x))
		default:
			s := cellText(elem, x)
			if s == "" || strings.EqualFold(s, "NULL") || strings.ContainsAny(s, "{},\"\\ \t\n\r") {
				s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
			}
			b.WriteString(s)
		}
	}
	b.WriteByte('}')
	return b.String()
}

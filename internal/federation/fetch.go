package federation

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// step is one thing a federated statement did, for EXPLAIN.
type step struct {
	kind   string // "SurrealDB", "bind join keys", "PostgreSQL", "wait"
	what   string // the statement
	params map[string]any
	rows   int
	took   time.Duration
	notes  []string
}

// surrealRead is a SurrealQL statement with its parameters.
type surrealRead struct {
	sql    string
	vars   map[string]any
	tables []string // tables it reads, for the cache
	// server runs it: a name from surreal.servers, "" or
	// route.Default for the default server.
	server string
}

// scanRead builds the SurrealQL for a scan given the client's parameter
// values and the bind-join keys (nil: none). It reports what it pushed.
func (sc *scan) read(params []any, keys []any) (surrealRead, []string) {
	vars := map[string]any{}
	var notes []string
	add := func(v any) string {
		name := "v" + strconv.Itoa(len(vars)+1)
		vars[name] = v
		return "$" + name
	}
	fields := sc.fields()
	from := surreal.Ident(sc.table.name)
	var conds []string
	if keys != nil {
		if sc.bind.col.Key {
			// SurrealDB 3.0.2 refuses a projection over an array of
			// record ids ("Specify a database to use"); a subquery that
			// fetches the records whole works.
			from = "(SELECT * FROM " + add(keys) + ")"
		} else {
			conds = append(conds, fieldPath(sc.bind.col.Path)+" IN "+add(keys))
		}
		notes = append(notes, fmt.Sprintf("bind join on %s: %d keys", sc.bind.sql, len(keys)))
	}
	exact := true
	for _, p := range sc.preds {
		c, ok := p.surreal(params, add)
		if !ok {
			exact = false
			notes = append(notes, "not pushed (parameter of another type): "+p.sql)
			continue
		}
		conds = append(conds, c)
		notes = append(notes, "pushed: "+p.sql)
	}
	q := "SELECT " + fields + " FROM " + from
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if sc.limit != nil && exact {
		if n, ok := intValue(sc.limit.resolve(params)); ok && n >= 0 {
			q += " LIMIT " + add(n)
			notes = append(notes, "pushed: LIMIT "+strconv.FormatInt(n, 10))
		}
	}
	return surrealRead{sql: q, vars: vars, tables: []string{sc.table.name}}, notes
}

// fields is the projection: the top-level fields the columns need, as
// an array per record (SELECT VALUE [...]: about a third cheaper for
// SurrealDB to send than objects), or * when a column is the whole
// document.
func (sc *scan) fields() string {
	tops := sc.tops()
	if tops == nil {
		return "*"
	}
	out := make([]string, len(tops))
	for i, t := range tops {
		out[i] = surreal.Ident(t)
	}
	return "VALUE [" + strings.Join(out, ", ") + "]"
}

// tops are the top-level fields a scan reads, id first; nil for all.
func (sc *scan) tops() []string {
	tops := []string{"id"}
	for _, i := range sc.cols {
		c := sc.table.cols[i]
		if c.Doc {
			return nil
		}
		if len(c.Path) > 0 && !slices.Contains(tops, c.Path[0]) {
			tops = append(tops, c.Path[0])
		}
	}
	return tops
}

func fieldPath(parts []string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = surreal.Ident(p)
	}
	return strings.Join(out, ".")
}

func (o operand) resolve(params []any) any {
	if o.param > 0 {
		if o.param > len(params) {
			return nil
		}
		return params[o.param-1]
	}
	return o.value
}

// surreal renders the predicate, or reports that a parameter's value is
// not of the column's kind (then it is left to PostgreSQL).
func (p *pred) surreal(params []any, add func(any) string) (string, bool) {
	f := fieldPath(p.col.Path)
	switch p.op {
	case "IS NULL":
		return "(" + f + " = NONE OR " + f + " = NULL)", true
	case "IS NOT NULL":
		return "(" + f + " != NONE AND " + f + " != NULL)", true
	}
	vals := make([]any, len(p.args))
	for i, a := range p.args {
		v, ok := kindValue(p.col.Exact, a.resolve(params))
		if !ok {
			return "", false
		}
		vals[i] = v
	}
	if p.col.Exact == "datetime" {
		return datetimeCond(f, p.op, vals, add), true
	}
	c := f + " " + p.op + " " + add(vals[0])
	if p.op == "IN" {
		c = f + " IN " + add(vals)
	}
	return notNone(f, p.op, c), true
}

// notNone makes a comparison false for NONE and NULL, as SQL's is for
// NULL: SurrealDB sorts NONE and NULL before every value, so that
// NONE < 3 and NONE != 3 are true there.
func notNone(f, op, c string) string {
	switch op {
	case "<", "<=", "!=":
		return "(" + c + " AND " + f + " != NONE AND " + f + " != NULL)"
	}
	return c
}

// datetimeCond compares a datetime field as PostgreSQL compares the
// values it is given: SurrealDB keeps nanoseconds, but the value read
// reaches PostgreSQL cut to microseconds (so does a parameter pgx sends),
// so field op p holds in PostgreSQL when the field is in a range of
// nanoseconds around p's microsecond.
func datetimeCond(f, op string, vals []any, add func(any) string) string {
	lo := func(v any) string { return add(models.CustomDateTime{Time: floorMicro(v)}) }
	hi := func(v any) string { return add(models.CustomDateTime{Time: floorMicro(v).Add(time.Microsecond)}) }
	eq := func(v any) string { return "(" + f + " >= " + lo(v) + " AND " + f + " < " + hi(v) + ")" }
	switch op {
	case "=":
		return eq(vals[0])
	case "IN":
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = eq(v)
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	case "!=":
		return notNone(f, op, "("+f+" < "+lo(vals[0])+" OR "+f+" >= "+hi(vals[0])+")")
	case "<":
		return notNone(f, op, f+" < "+lo(vals[0]))
	case "<=":
		return notNone(f, op, f+" < "+hi(vals[0]))
	case ">":
		return f + " >= " + hi(vals[0])
	}
	return f + " >= " + lo(vals[0]) // >=
}

// floorMicro cuts a datetime to microseconds as pgx and the reverse
// mapping do (Nanosecond()/1000).
func floorMicro(v any) time.Time {
	t := v.(models.CustomDateTime).Time
	return t.Add(-time.Duration(t.Nanosecond() % 1000))
}

// kindValue converts a value for comparison with a field of kind exact.
// A parameter sent as text (the CLI, many drivers) is what PostgreSQL
// parses with the parameter's type, here the column's: an integer or a
// boolean written the one way both engines read alike is taken as such.
func kindValue(exact string, v any) (any, bool) {
	switch exact {
	case "int":
		if s, ok := v.(string); ok {
			n, err := strconv.ParseInt(s, 10, 64)
			return n, err == nil && strconv.FormatInt(n, 10) == s
		}
		return intValue(v)
	case "string":
		s, ok := v.(string)
		return s, ok
	case "bool":
		if s, ok := v.(string); ok {
			switch s {
			case "true", "t":
				return true, true
			case "false", "f":
				return false, true
			}
			return nil, false
		}
		b, ok := v.(bool)
		return b, ok
	case "datetime":
		t, ok := v.(time.Time)
		return models.CustomDateTime{Time: t}, ok
	}
	return nil, false
}

func itoa(i int) string { return strconv.Itoa(i) }

func intValue(v any) (int64, bool) {
	switch x := normalizeInt(v).(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int:
		return int64(x), true
	}
	return 0, false
}

// bindKeys converts the keys PostgreSQL returned for the scan's column;
// false when they are of another kind (the scan then reads everything).
func (sc *scan) bindKeys(raw []any) ([]any, bool) {
	col := sc.bind.col
	out := make([]any, 0, len(raw))
	for _, v := range raw {
		if v == nil {
			continue // = never matches NULL
		}
		if col.Key {
			ids, ok := recordIDs(sc.table.name, v)
			if !ok {
				return nil, false
			}
			out = append(out, ids...)
			continue
		}
		k, ok := kindValue(col.Exact, v)
		if !ok {
			return nil, false
		}
		out = append(out, k)
	}
	return out, true
}

// bindKeysText converts keys read from another scan's rows (the text of
// PostgreSQL values, nil for NULL).
func (sc *scan) bindKeysText(raw []any) ([]any, bool) {
	col := sc.bind.col
	out := make([]any, 0, len(raw))
	for _, v := range raw {
		if v == nil {
			continue // NULL: = never matches it
		}
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		switch {
		case col.Key:
			ids, ok := recordIDs(sc.table.name, s)
			if !ok {
				return nil, false
			}
			out = append(out, ids...)
		case col.Exact == "int":
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, false
			}
			out = append(out, n)
		case col.Exact == "string":
			out = append(out, s)
		default:
			return nil, false
		}
	}
	return out, true
}

// recordIDs are the record ids whose key column text could equal v: an
// integer id, a string id spelled the same (a key typed string holds it
// as is), and a string id in backticks (the text an untyped key column
// holds for a name that is not bare, such as `a b`). False when v may be
// the text of a uuid, array or object id, which is not parsed.
func recordIDs(table string, v any) ([]any, bool) {
	if n, ok := intValue(v); ok {
		return []any{models.RecordID{Table: table, ID: n}}, true
	}
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	out := []any{models.RecordID{Table: table, ID: s}}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
		out = append(out, models.RecordID{Table: table, ID: n})
	}
	if name, ok := unbacktick(s); ok {
		out = append(out, models.RecordID{Table: table, ID: name})
	}
	for _, p := range []string{"[", "{", "u'", `u"`} {
		if strings.HasPrefix(s, p) {
			return nil, false
		}
	}
	return out, true
}

// unbacktick undoes the escaping of a name in backticks (\ and \`).
func unbacktick(s string) (string, bool) {
	if len(s) < 2 || s[0] != '`' || s[len(s)-1] != '`' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		switch c := s[i]; {
		case c == '\\' && i+2 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '\\' || c == '`':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// surrealQuery runs a SurrealQL read on its server and returns the last
// statement's result.
func (e *Engine) surrealQuery(ctx context.Context, r surrealRead) (any, error) {
	pool, err := e.srv.pool(ctx, r.server)
	if err != nil {
		return nil, err
	}
	var res *[]surrealdb.QueryResult[any]
	err = pool.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
		res, err = surrealdb.Query[any](ctx, cl.DB, r.sql, r.vars)
		return err
	})
	if err != nil {
		for _, t := range r.tables {
			e.cat.forget(t)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		where := ""
		if r.server != "" && r.server != route.Default {
			where = " (server " + r.server + ")"
		}
		if surreal.IsConnError(err) {
			pe := pgError(codeConnFailure, "SurrealDB%s is unreachable: %v", where, err)
			pe.Hint = "check that SurrealDB runs at surreal.url; pgsurreal reconnects on the next query"
			if where != "" {
				pe.Hint = "check that SurrealDB runs at the url of surreal.servers entry " + r.server + "; pgsurreal reconnects on the next query"
			}
			return nil, pe
		}
		return nil, pgError(codeSurreal, "SurrealDB%s refused %s: %v", where, r.sql, err)
	}
	if res == nil || len(*res) == 0 {
		return nil, nil
	}
	last := (*res)[len(*res)-1]
	return last.Result, nil
}

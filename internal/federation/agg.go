package federation

import (
	"context"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// aggScan is a whole aggregate over one SurrealDB table that SurrealDB
// computes: SELECT keys, count(*), count(c), sum(c), min(c), max(c) FROM
// surreal.t [WHERE pushable] [GROUP BY keys]. The SELECT is replaced by a
// read of the aggregated rows, one per group, typed as PostgreSQL types
// them (count bigint, sum of bigint numeric, min/max bigint).
type aggScan struct {
	input int
	table *tableDef
	preds []*pred
	keys  []mapping.ShapeColumn
	outs  []aggOut
	// grouped is false for an aggregate over the whole table, which has
	// exactly one row even when the table is empty.
	grouped bool
}

// aggOut is one output column: a grouping key or an aggregate.
type aggOut struct {
	name string
	typ  string
	key  int    // index into keys, or -1
	fn   string // count, sum, min, max
	col  *mapping.ShapeColumn
}

// planAggregate returns the aggregate pushdown of sel, or nil when sel is
// not of that form.
func (e *Engine) planAggregate(ctx context.Context, sel *pg_query.SelectStmt, input int) (*aggScan, error) {
	if len(sel.FromClause) != 1 || sel.Op != pg_query.SetOperation_SETOP_NONE || sel.HavingClause != nil || len(sel.WindowClause) > 0 ||
		len(sel.DistinctClause) > 0 || sel.LockingClause != nil || sel.WithClause != nil {
		return nil, nil
	}
	rv := sel.FromClause[0].GetRangeVar()
	if rv == nil || !isSurreal(rv) || (rv.Alias != nil && len(rv.Alias.Colnames) > 0) {
		return nil, nil
	}
	hasAgg := len(sel.GroupClause) > 0
	for _, t := range sel.TargetList {
		if fc := t.GetResTarget().GetVal().GetFuncCall(); fc != nil {
			hasAgg = true
		}
	}
	if !hasAgg || e.srv.partitioned(rv.Relname) {
		// A partitioned table's groups are spread over its servers: its
		// rows are read (pushed predicates and all) and PostgreSQL
		// aggregates their union.
		return nil, nil
	}
	def, err := e.cat.table(ctx, rv.Relname)
	if err != nil {
		return nil, err
	}
	alias := rv.Relname
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	probe := &scan{table: def, alias: alias}
	a := &aggScan{input: input, table: def, grouped: len(sel.GroupClause) > 0}
	for _, c := range conjuncts(sel.WhereClause) {
		p := matchPred(c, probe, true)
		if p == nil {
			return nil, nil
		}
		for _, arg := range p.args {
			if arg.param != 0 {
				return nil, nil // a parameter of another type would not be pushed
			}
		}
		a.preds = append(a.preds, p)
	}
	groupNames := map[string]int{}
	for _, g := range sel.GroupClause {
		col, ok := scanColumn(g, probe, true)
		if !ok || len(col.Path) != 1 || (col.Exact != "int" && col.Exact != "string" && col.Exact != "bool") {
			return nil, nil
		}
		groupNames[col.Name] = len(a.keys)
		a.keys = append(a.keys, col)
	}
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, nil
		}
		out, ok := aggOutput(rt, probe, groupNames, a.keys)
		if !ok {
			return nil, nil
		}
		a.outs = append(a.outs, out)
	}
	// ORDER BY, LIMIT and OFFSET stay with PostgreSQL, applied to the
	// aggregated rows: sort keys must name output columns (or positions).
	for _, s := range sel.SortClause {
		by := s.GetSortBy()
		if by == nil {
			return nil, nil
		}
		if c := by.Node.GetAConst(); c != nil && c.GetIval() != nil {
			continue
		}
		cr := by.Node.GetColumnRef()
		if cr == nil || len(cr.Fields) != 1 || !a.hasOutput(strs(cr.Fields)[0]) {
			return nil, nil
		}
	}
	return a, nil
}

func (a *aggScan) hasOutput(name string) bool {
	for _, o := range a.outs {
		if o.name == name {
			return true
		}
	}
	return false
}

// aggOutput classifies one select-list entry.
func aggOutput(rt *pg_query.ResTarget, probe *scan, groupNames map[string]int, keys []mapping.ShapeColumn) (aggOut, bool) {
	if col, ok := scanColumn(rt.Val, probe, true); ok {
		k, grouped := groupNames[col.Name]
		if !grouped {
			return aggOut{}, false
		}
		return aggOut{name: or(rt.Name, col.Name), typ: keys[k].Type, key: k}, true
	}
	fc := rt.Val.GetFuncCall()
	if fc == nil || fc.AggFilter != nil || fc.AggDistinct || len(fc.AggOrder) > 0 || fc.Over != nil || fc.AggWithinGroup || fc.FuncVariadic {
		return aggOut{}, false
	}
	names := strs(fc.Funcname)
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	if len(names) != 1 {
		return aggOut{}, false
	}
	fn := names[0]
	out := aggOut{name: or(rt.Name, fn), key: -1, fn: fn}
	switch {
	case fn == "count" && fc.AggStar:
		out.typ = "bigint"
		return out, true
	case len(fc.Args) != 1:
		return aggOut{}, false
	}
	col, ok := scanColumn(fc.Args[0], probe, true)
	if !ok || len(col.Path) != 1 {
		return aggOut{}, false
	}
	out.col = &col
	switch {
	case fn == "count" && col.Exact != "":
		out.typ = "bigint"
	case (fn == "sum") && col.Exact == "int":
		out.typ = "numeric"
	case (fn == "min" || fn == "max") && col.Exact == "int":
		out.typ = "bigint"
	default:
		return aggOut{}, false
	}
	return out, true
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rewrite makes sel read the aggregated rows.
func (a *aggScan) rewrite(sel *pg_query.SelectStmt) {
	defs := make([]colDef, len(a.outs))
	var targets []*pg_query.Node
	for i, o := range a.outs {
		// Internal names: two outputs may share a name (count, count).
		defs[i] = colDef{"c" + itoa(i), o.typ}
		targets = append(targets, pg_query.MakeResTargetNodeWithNameAndVal(o.name, pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(defs[i].name)}, 0), 0))
	}
	from := &pg_query.Node{}
	replaceWithRows(from, a.input, "_agg", defs)
	sel.TargetList = targets
	sel.FromClause = []*pg_query.Node{from}
	sel.WhereClause = nil
	sel.GroupClause = nil
}

// read builds the SurrealQL: every aggregate with, for those over a
// column, the count of its non-NULL values (SurrealDB's math::sum of no
// values is 0 and math::min +Inf, where SQL says NULL).
func (a *aggScan) read() surrealRead {
	vars := map[string]any{}
	add := func(v any) string {
		name := "v" + itoa(len(vars)+1)
		vars[name] = v
		return "$" + name
	}
	var fields []string
	for i, k := range a.keys {
		fields = append(fields, fieldPath(k.Path)+" AS "+surreal.Ident("k"+itoa(i)))
	}
	for i, o := range a.outs {
		if o.key >= 0 {
			continue
		}
		alias := surreal.Ident("a" + itoa(i))
		if o.col == nil {
			fields = append(fields, "count() AS "+alias)
			continue
		}
		f := fieldPath(o.col.Path)
		if !o.col.NotNull {
			nonNull := "count(" + f + " != NONE AND " + f + " != NULL)"
			fields = append(fields, nonNull+" AS "+surreal.Ident("n"+itoa(i)))
		} else if o.fn == "count" || !a.grouped {
			// GROUP ALL over no records still gives a row: count them
			fields = append(fields, "count() AS "+surreal.Ident("n"+itoa(i)))
		}
		switch o.fn {
		case "sum":
			// as decimal: SurrealDB's int sum wraps past 64 bits,
			// PostgreSQL's sum(bigint) is an exact numeric
			fields = append(fields, "math::sum(<decimal> ("+f+" ?? 0)) AS "+alias)
		case "min":
			fields = append(fields, "math::min("+f+") AS "+alias)
		case "max":
			fields = append(fields, "math::max("+f+") AS "+alias)
		}
	}
	q := "SELECT " + strings.Join(fields, ", ") + " FROM " + surreal.Ident(a.table.name)
	var conds []string
	for _, p := range a.preds {
		c, _ := p.surreal(nil, add)
		conds = append(conds, c)
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if a.grouped {
		groups := make([]string, len(a.keys))
		for i := range a.keys {
			groups[i] = surreal.Ident("k" + itoa(i))
		}
		q += " GROUP BY " + strings.Join(groups, ", ")
	} else {
		q += " GROUP ALL"
	}
	return surrealRead{sql: q, vars: vars, tables: []string{a.table.name}}
}

// rowsJSON converts SurrealDB's groups to the output rows.
func (a *aggScan) rowsJSON(result any) (string, int, error) {
	groups, _ := result.([]any)
	if !a.grouped && len(groups) == 0 {
		groups = []any{map[string]any{}} // an aggregate over no rows is one row
	}
	var w rowsWriter
	for _, g := range groups {
		m, ok := g.(map[string]any)
		if !ok {
			return "", 0, pgError(codeSurreal, "SurrealDB returned a %T for a group", g)
		}
		for i, o := range a.outs {
			var v any
			switch {
			case o.key >= 0:
				v = m["k"+itoa(o.key)]
			case o.col == nil:
				v = m["a"+itoa(i)]
				if v == nil {
					v = int64(0)
				}
			default:
				nn, _ := intValue(normalizeInt(m["n"+itoa(i)]))
				if o.col.NotNull && o.fn != "count" && a.grouped {
					nn = 1 // every record has a value: SQL's NULL for "no values" cannot arise in a group
				}
				v = m["a"+itoa(i)]
				if o.fn == "count" {
					v = nn
				} else if nn == 0 {
					v = nil
				}
			}
			out, err := mapping.ConvertValue(o.typ, v)
			if err != nil {
				return "", 0, pgError("22000", "aggregate %s over SurrealDB table %s: %v", o.name, a.table.name, err)
			}
			w.field("c"+itoa(i), out, false)
		}
		w.endRow()
	}
	return w.String(), len(groups), nil
}

// normalizeInt turns the CBOR decoder's unsigned integers into int64.
func normalizeInt(v any) any {
	switch x := v.(type) {
	case uint64:
		return int64(x)
	case uint32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint8:
		return int64(x)
	case int8:
		return int64(x)
	}
	return v
}

package federation

import (
	"context"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// scan reads one reference to a SurrealDB table. Its rows reach
// PostgreSQL as parameter $input, the jsonb array the reference was
// replaced by.
type scan struct {
	input int
	table *tableDef
	alias string
	cols  []int // indexes into table.cols of the columns read
	preds []*pred
	// limit, when set, is pushed: a constant or a client parameter.
	limit *operand
	bind  *bindJoin
}

// operand is a constant or a client parameter ($param).
type operand struct {
	value any
	param int
}

// pred is a comparison SurrealDB evaluates to pre-filter a scan. The
// rewritten statement keeps it too: it only ever removes rows that
// PostgreSQL would remove.
type pred struct {
	col  mapping.ShapeColumn
	op   string // =, !=, <, <=, >, >=, IN, IS NULL, IS NOT NULL
	args []operand
	sql  string // as written in the query, for EXPLAIN
}

// bindJoin restricts a scan to the join keys a selective PostgreSQL table
// produces: keySQL returns them (at most cap+1 rows).
type bindJoin struct {
	col mapping.ShapeColumn
	// from, when set, is another scan whose fetched rows give the keys
	// (its column fromCol) instead of keySQL.
	from    *scan
	fromCol string
	// direct, when set, is the one key: the PostgreSQL side's join
	// column equals this constant or parameter.
	direct    *operand
	keySQL    string
	keyParams []int // client parameters of keySQL, in its $1.. order
	sql       string
}

// passthrough is a surreal.query(...) call in FROM.
type passthrough struct {
	input int
	query operand
	args  []namedOperand
	cols  []colDef
	// node and alias are its replacement in the statement, redone by
	// keepParams.
	node  *pg_query.Node
	alias string
}

type namedOperand struct {
	name string
	operand
}

type colDef struct{ name, typ string }

// plan analyses the tree, chooses pushdowns and rewrites it.
func (e *Engine) plan(ctx context.Context, tree *pg_query.ParseResult, explain bool) (*Statement, error) {
	if len(tree.Stmts) == 0 {
		return nil, pgError(codeSyntax, "EXPLAIN FEDERATED needs a statement")
	}
	if err := refuseWrites(tree); err != nil {
		return nil, err
	}
	st := &Statement{e: e, explain: explain, nparams: maxParam(tree)}
	names := referencedNames(tree)
	ctes := cteNames(tree)
	next := st.nparams
	var err error
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		if err != nil {
			return false
		}
		sel := n.GetSelectStmt()
		if sel == nil {
			return true
		}
		if len(sel.FromClause) == 1 && sel.FromClause[0].GetRangeVar() != nil && isSurreal(sel.FromClause[0].GetRangeVar()) {
			var a *aggScan
			if a, err = e.planAggregate(ctx, sel, next+1); err != nil {
				return false
			}
			if a != nil {
				next++
				st.aggs = append(st.aggs, a)
				a.rewrite(sel)
				return true
			}
		}
		var items []*fromItem
		for _, f := range sel.FromClause {
			items = append(items, collectFrom(f, false, false, nil)...)
		}
		local := map[*fromItem]*scan{}
		for _, it := range items {
			switch {
			case it.rv != nil && isSurreal(it.rv):
				next++
				var sc *scan
				sc, err = e.planScan(ctx, sel, items, it, names, ctes, next)
				if err != nil {
					return false
				}
				st.scans = append(st.scans, sc)
				local[it] = sc
				replaceWithRows(it.node, next, sc.alias, sc.columnDefs())
			case it.fn != nil:
				next++
				var pt *passthrough
				pt, err = planPassthrough(it, next)
				if err != nil {
					return false
				}
				st.funcs = append(st.funcs, pt)
				pt.node, pt.alias = it.node, it.alias
				replaceWithRows(it.node, next, it.alias, pt.cols)
			}
		}
		chainBindJoins(sel, items, local)
		return true
	})
	if err != nil {
		return nil, err
	}
	if err := checkLeftovers(tree); err != nil {
		return nil, err
	}
	st.keepParams(tree)
	stripSurrealQualifiers(tree)
	out, err := pg_query.Deparse(tree)
	if err != nil {
		return nil, fmt.Errorf("writing the rewritten statement: %w", err)
	}
	st.sql = out
	return st, nil
}

// fromItem is one relation in a FROM clause, with what its join position
// allows to be pushed into it.
type fromItem struct {
	node     *pg_query.Node
	rv       *pg_query.RangeVar
	fn       *pg_query.RangeFunction
	alias    string
	nullable bool // on the nullable side of an outer join
	// quals are ON conjuncts that filter this item's rows (inner joins,
	// and outer joins of which it is the nullable side).
	quals []*pg_query.Node
}

// collectFrom flattens a FROM item's joins.
func collectFrom(n *pg_query.Node, nullable, preserved bool, quals []*pg_query.Node) []*fromItem {
	switch x := n.Node.(type) {
	case *pg_query.Node_RangeVar:
		alias := x.RangeVar.Relname
		if x.RangeVar.Alias != nil {
			alias = x.RangeVar.Alias.Aliasname
		}
		return []*fromItem{{node: n, rv: x.RangeVar, alias: alias, nullable: nullable, quals: quals}}
	case *pg_query.Node_RangeFunction:
		if len(x.RangeFunction.Functions) != 1 {
			return nil
		}
		items := x.RangeFunction.Functions[0].GetList().GetItems()
		if len(items) == 0 || items[0].GetFuncCall() == nil || !isSurrealQuery(items[0].GetFuncCall()) {
			return nil
		}
		alias := ""
		if x.RangeFunction.Alias != nil {
			alias = x.RangeFunction.Alias.Aliasname
		}
		return []*fromItem{{node: n, fn: x.RangeFunction, alias: alias}}
	case *pg_query.Node_JoinExpr:
		j := x.JoinExpr
		on := conjuncts(j.Quals)
		var l, r []*fromItem
		switch j.Jointype {
		case pg_query.JoinType_JOIN_INNER:
			both := append(slices.Clone(quals), on...)
			l = collectFrom(j.Larg, nullable, false, both)
			r = collectFrom(j.Rarg, nullable, false, both)
		case pg_query.JoinType_JOIN_LEFT:
			l = collectFrom(j.Larg, nullable, true, nil)
			r = collectFrom(j.Rarg, true, false, on)
		case pg_query.JoinType_JOIN_RIGHT:
			l = collectFrom(j.Larg, true, false, on)
			r = collectFrom(j.Rarg, nullable, true, nil)
		default: // FULL
			l = collectFrom(j.Larg, true, true, nil)
			r = collectFrom(j.Rarg, true, true, nil)
		}
		return append(l, r...)
	}
	return nil
}

// conjuncts splits an AND tree.
func conjuncts(n *pg_query.Node) []*pg_query.Node {
	if n == nil {
		return nil
	}
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range b.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

// planScan decides what one SurrealDB table reference reads.
func (e *Engine) planScan(ctx context.Context, sel *pg_query.SelectStmt, items []*fromItem, it *fromItem, names map[string]bool, ctes map[string]bool, input int) (*scan, error) {
	if it.rv.Alias != nil && len(it.rv.Alias.Colnames) > 0 {
		return nil, notSupported("column aliases on SurrealDB table %s.%s; alias the columns in the select list instead", SurrealSchema, it.rv.Relname)
	}
	def, err := e.cat.table(ctx, it.rv.Relname)
	if err != nil {
		return nil, err
	}
	sc := &scan{input: input, table: def, alias: it.alias}
	all := names["*"] || names["*"+sc.alias]
	for i, c := range def.cols {
		if all || names[c.Name] || c.Key {
			sc.cols = append(sc.cols, i)
		}
	}
	// alone: the scan is the whole FROM clause (items leave out
	// subqueries and functions, which a join can filter rows by).
	alone := len(sel.FromClause) == 1 && sel.FromClause[0].GetRangeVar() != nil
	where := conjuncts(sel.WhereClause)
	pushedAll := true
	for _, c := range where {
		p := matchPred(c, sc, alone)
		if p == nil || (it.nullable && !p.strict()) {
			pushedAll = false
			continue
		}
		sc.preds = append(sc.preds, p)
	}
	for _, c := range it.quals {
		if p := matchPred(c, sc, alone); p != nil {
			sc.preds = append(sc.preds, p)
		}
	}
	if alone && pushedAll {
		sc.limit = pushableLimit(sel)
	}
	sc.bind = e.planBindJoin(sel, items, it, where, ctes, sc)
	return sc, nil
}

// strict reports whether the predicate is false for NULL, so that it can
// pre-filter the nullable side of an outer join.
func (p *pred) strict() bool { return p.op != "IS NULL" }

// pushableLimit returns the LIMIT of a plain single-table select (no
// aggregates, grouping, DISTINCT, ordering, windows, set operations or
// functions in the select list), with OFFSET folded in.
func pushableLimit(sel *pg_query.SelectStmt) *operand {
	if sel.LimitCount == nil || sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.GroupClause) > 0 || sel.HavingClause != nil ||
		len(sel.DistinctClause) > 0 || len(sel.SortClause) > 0 || len(sel.WindowClause) > 0 || sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES || sel.LockingClause != nil {
		return nil
	}
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil || (rt.Val.GetColumnRef() == nil && rt.Val.GetAConst() == nil) {
			return nil
		}
	}
	lim, ok := intOperand(sel.LimitCount)
	if !ok {
		return nil
	}
	if sel.LimitOffset != nil {
		off, ok := intOperand(sel.LimitOffset)
		if !ok || off.param != 0 || lim.param != 0 {
			return nil
		}
		lim.value = lim.value.(int64) + off.value.(int64)
	}
	return &lim
}

func intOperand(n *pg_query.Node) (operand, bool) {
	if c := n.GetAConst(); c != nil {
		if i := c.GetIval(); i != nil && !c.Isnull {
			return operand{value: int64(i.Ival)}, true
		}
		return operand{}, false
	}
	if p := n.GetParamRef(); p != nil {
		return operand{param: int(p.Number)}, true
	}
	return operand{}, false
}

// columnDefs is the column definition list of the scan's rows.
func (sc *scan) columnDefs() []colDef {
	out := make([]colDef, len(sc.cols))
	for i, c := range sc.cols {
		out[i] = colDef{sc.table.cols[c].Name, sc.table.cols[c].Type}
	}
	return out
}

// keepParams keeps every client parameter in the rewritten statement: one
// used only as a surreal.query() argument would vanish with the call,
// and PostgreSQL cannot run a statement with a parameter it cannot type
// (42P18). Such a parameter is referenced as $k::text inside the call's
// replacement, where it changes nothing, and PostgreSQL is sent NULL for
// it (args): SurrealDB got its value.
func (st *Statement) keepParams(tree *pg_query.ParseResult) {
	used := map[int]bool{}
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		if p := n.GetParamRef(); p != nil {
			used[int(p.Number)] = true
		}
		return true
	})
	for _, pt := range st.funcs {
		var extra []int
		for _, o := range append([]operand{pt.query}, argOperands(pt.args)...) {
			if o.param > 0 && !used[o.param] {
				used[o.param] = true
				extra = append(extra, o.param)
			}
		}
		if len(extra) == 0 {
			continue
		}
		if st.vanished == nil {
			st.vanished = map[int]bool{}
		}
		for _, k := range extra {
			st.vanished[k] = true
		}
		replaceWithRowsRefs(pt.node, pt.input, pt.alias, pt.cols, extra)
	}
}

func argOperands(args []namedOperand) []operand {
	out := make([]operand, len(args))
	for i, a := range args {
		out[i] = a.operand
	}
	return out
}

// replaceWithRows replaces a FROM item by
// jsonb_to_recordset($input::jsonb) AS alias(columns).
func replaceWithRows(n *pg_query.Node, input int, alias string, cols []colDef) {
	replaceWithRowsRefs(n, input, alias, cols, nil)
}

// replaceWithRowsRefs is replaceWithRows with the parameters refs
// mentioned (and ignored) in the function's argument.
func replaceWithRowsRefs(n *pg_query.Node, input int, alias string, cols []colDef, refs []int) {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = postgres.Ident(c.name) + " " + c.typ
	}
	arg := fmt.Sprintf("$%d::jsonb", input)
	if len(refs) > 0 {
		texts := make([]string, len(refs))
		for i, k := range refs {
			texts[i] = fmt.Sprintf("$%d::text", k)
		}
		arg = fmt.Sprintf("COALESCE(%s, to_jsonb(ARRAY[%s]))", arg, strings.Join(texts, ", "))
	}
	q := fmt.Sprintf("SELECT * FROM jsonb_to_recordset(%s) AS %s(%s)", arg, postgres.Ident(alias), strings.Join(defs, ", "))
	t, err := pg_query.Parse(q)
	if err != nil {
		panic(fmt.Sprintf("federation: the replacement %q does not parse: %v", q, err))
	}
	n.Node = t.Stmts[0].Stmt.GetSelectStmt().FromClause[0].Node
}

package federation

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
)

// comparable ops: SQL operator -> SurrealQL operator, and the operator
// with its operands swapped.
var pushOps = map[string]struct{ surreal, flipped string }{
	"=": {"=", "="}, "<>": {"!=", "<>"}, "!=": {"!=", "!="},
	"<": {"<", ">"}, "<=": {"<=", ">="}, ">": {">", "<"}, ">=": {">=", "<="},
}

// matchPred returns the pushable form of conjunct c for scan sc, or nil.
// A column qualifies when its SurrealDB type guarantees one kind of value
// (ShapeColumn.Exact); string columns only take = , <> and IN, whose
// meaning does not depend on a collation. Values must be constants of
// the column's kind or client parameters (checked when their values are
// known).
func matchPred(c *pg_query.Node, sc *scan, alone bool) *pred {
	text := deparseExpr(c)
	switch x := c.Node.(type) {
	case *pg_query.Node_NullTest:
		col, ok := scanColumn(x.NullTest.Arg, sc, alone)
		if !ok || col.Exact == "" {
			return nil
		}
		op := "IS NULL"
		if x.NullTest.Nulltesttype == pg_query.NullTestType_IS_NOT_NULL {
			op = "IS NOT NULL"
		}
		return &pred{col: col, op: op, sql: text}
	case *pg_query.Node_AExpr:
		a := x.AExpr
		names := strs(a.Name)
		if len(names) != 1 {
			return nil
		}
		switch a.Kind {
		case pg_query.A_Expr_Kind_AEXPR_OP:
			ops, ok := pushOps[names[0]]
			if !ok {
				return nil
			}
			op, left, right := ops.surreal, a.Lexpr, a.Rexpr
			col, ok := scanColumn(left, sc, alone)
			if !ok {
				col, ok = scanColumn(right, sc, alone)
				if !ok {
					return nil
				}
				op, right = pushOps[ops.flipped].surreal, left
			}
			if col.Exact == "" || (col.Exact == "string" && op != "=" && op != "!=") {
				return nil
			}
			v, ok := valueOperand(right, col)
			if !ok {
				return nil
			}
			return &pred{col: col, op: op, args: []operand{v}, sql: text}
		case pg_query.A_Expr_Kind_AEXPR_IN:
			if names[0] != "=" {
				return nil // NOT IN: NULLs in the list make it never true in SQL
			}
			col, ok := scanColumn(a.Lexpr, sc, alone)
			if !ok || col.Exact == "" {
				return nil
			}
			list := a.Rexpr.GetList()
			if list == nil {
				return nil
			}
			p := &pred{col: col, op: "IN", sql: text}
			for _, item := range list.Items {
				v, ok := valueOperand(item, col)
				if !ok {
					return nil
				}
				p.args = append(p.args, v)
			}
			return p
		}
	}
	return nil
}

// scanColumn resolves a column reference to a column of the scan:
// alias.column, or a bare column when the scan is the only relation.
func scanColumn(n *pg_query.Node, sc *scan, alone bool) (mapping.ShapeColumn, bool) {
	cr := n.GetColumnRef()
	if cr == nil {
		return mapping.ShapeColumn{}, false
	}
	f := strs(cr.Fields)
	var name string
	switch {
	case len(f) == 2 && f[0] == sc.alias:
		name = f[1]
	case len(f) == 1 && alone:
		name = f[0]
	default:
		return mapping.ShapeColumn{}, false
	}
	col, _, ok := sc.table.col(name)
	if !ok || (!col.Key && col.Path == nil) {
		return mapping.ShapeColumn{}, false
	}
	return col, true
}

// valueOperand accepts a constant of the column's kind, or a parameter.
func valueOperand(n *pg_query.Node, col mapping.ShapeColumn) (operand, bool) {
	if p := n.GetParamRef(); p != nil {
		return operand{param: int(p.Number)}, true
	}
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return operand{}, false
	}
	switch col.Exact {
	case "int":
		if i := c.GetIval(); i != nil {
			return operand{value: int64(i.Ival)}, true
		}
	case "bool":
		if b := c.GetBoolval(); b != nil {
			return operand{value: b.Boolval}, true
		}
	case "string":
		if s := c.GetSval(); s != nil {
			return operand{value: s.Sval}, true
		}
	}
	return operand{}, false
}

// joinEquality matches `sc.col = alias.column` (either way round) with a
// scan column whose values can be looked up by key: of an exact int or
// string kind, or the record id. It returns the column, the other side
// and that side's [alias, column].
func joinEquality(c *pg_query.Node, sc *scan) (mapping.ShapeColumn, *pg_query.Node, []string, bool) {
	a := c.GetAExpr()
	if a == nil || a.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(a.Name) != 1 || strs(a.Name)[0] != "=" {
		return mapping.ShapeColumn{}, nil, nil, false
	}
	col, ok := scanColumn(a.Lexpr, sc, false)
	other := a.Rexpr
	if !ok {
		if col, ok = scanColumn(a.Rexpr, sc, false); !ok {
			return mapping.ShapeColumn{}, nil, nil, false
		}
		other = a.Lexpr
	}
	if col.Exact != "int" && col.Exact != "string" && !(col.Key && len(sc.table.shape.KeyColumns()) == 1) {
		return mapping.ShapeColumn{}, nil, nil, false
	}
	ref := other.GetColumnRef()
	if ref == nil || len(ref.Fields) != 2 {
		return mapping.ShapeColumn{}, nil, nil, false
	}
	return col, other, strs(ref.Fields), true
}

// planBindJoin looks for an equality between a scan column and a column
// of a PostgreSQL table that the WHERE clause restricts: the keys that
// table yields are then fetched first, and only matching records read.
func (e *Engine) planBindJoin(sel *pg_query.SelectStmt, items []*fromItem, it *fromItem, where []*pg_query.Node, ctes map[string]bool, sc *scan) *bindJoin {
	cands := append(append([]*pg_query.Node{}, where...), it.quals...)
	for _, c := range cands {
		col, other, f, ok := joinEquality(c, sc)
		if !ok {
			continue
		}
		pg := findItem(items, f[0])
		if pg == nil || pg.rv == nil || pg.nullable || isSurreal(pg.rv) || (pg.rv.Schemaname == "" && ctes[pg.rv.Relname]) {
			continue
		}
		var own []*pg_query.Node
		for _, w := range where {
			if onlyReferences(w, pg.alias) {
				own = append(own, w)
			}
		}
		if len(own) == 0 {
			continue // not known to be selective
		}
		// Not for text: the PostgreSQL column may compare otherwise than
		// text (char(n) ignores trailing blanks), the key query is exact.
		if v, ok := equalsOperand(own, f[1]); ok && col.Type != "text" {
			// pg.col = value and col = pg.col: the keys are at most that
			// value, no need to ask PostgreSQL.
			return &bindJoin{col: col, direct: &v, sql: deparseExpr(c)}
		}
		key := other
		if col.Type == "text" {
			// the keys as text = compares them: a char(n) key without
			// its padding
			key = &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{
				Arg: other, TypeName: &pg_query.TypeName{Names: []*pg_query.Node{pg_query.MakeStrNode("text")}, Typemod: -1}}}}
		}
		keySQL, params, err := keyQuery(pg, key, own, e.o.Config.BindJoinCap+1)
		if err != nil {
			continue
		}
		return &bindJoin{col: col, keySQL: keySQL, keyParams: params, sql: deparseExpr(c)}
	}
	return nil
}

func findItem(items []*fromItem, alias string) *fromItem {
	var found *fromItem
	for _, it := range items {
		if it.alias == alias {
			if found != nil {
				return nil // ambiguous
			}
			found = it
		}
	}
	return found
}

// onlyReferences reports whether n is a simple expression (comparisons,
// AND/OR/NOT, IS NULL, IN lists, casts, constants, parameters) whose
// columns are all alias.column. Functions are excluded: a volatile one
// could yield other keys than the real query sees.
func onlyReferences(n *pg_query.Node, alias string) bool {
	ok, cols := true, 0
	walkNode(n, func(m *pg_query.Node) bool {
		switch x := m.Node.(type) {
		case *pg_query.Node_ColumnRef:
			f := strs(x.ColumnRef.Fields)
			if len(f) != 2 || f[0] != alias || f[1] == "*" {
				ok = false
			}
			cols++
		case *pg_query.Node_AExpr, *pg_query.Node_BoolExpr, *pg_query.Node_NullTest, *pg_query.Node_AConst,
			*pg_query.Node_ParamRef, *pg_query.Node_TypeCast, *pg_query.Node_TypeName, *pg_query.Node_List, *pg_query.Node_String_:
		default:
			ok = false
		}
		return ok
	})
	return ok && cols > 0
}

// keyQuery renders SELECT DISTINCT key FROM table AS alias WHERE own
// LIMIT limit, its parameters renumbered from $1.
func keyQuery(pg *fromItem, key *pg_query.Node, own []*pg_query.Node, limit int) (string, []int, error) {
	rv := proto.Clone(pg.rv).(*pg_query.RangeVar)
	sel := &pg_query.SelectStmt{
		DistinctClause: []*pg_query.Node{{}},
		TargetList:     []*pg_query.Node{pg_query.MakeResTargetNodeWithVal(proto.Clone(key).(*pg_query.Node), 0)},
		FromClause:     []*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: rv}}},
		LimitCount:     pg_query.MakeAConstIntNode(int64(limit), 0),
		LimitOption:    pg_query.LimitOption_LIMIT_OPTION_COUNT,
	}
	var conds []*pg_query.Node
	for _, o := range own {
		conds = append(conds, proto.Clone(o).(*pg_query.Node))
	}
	if len(conds) == 1 {
		sel.WhereClause = conds[0]
	} else {
		sel.WhereClause = pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, conds, 0)
	}
	node := &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}
	renum := map[int32]int32{}
	var params []int
	walkNode(node, func(m *pg_query.Node) bool {
		if p := m.GetParamRef(); p != nil {
			n, ok := renum[p.Number]
			if !ok {
				n = int32(len(params) + 1)
				renum[p.Number] = n
				params = append(params, int(p.Number))
			}
			p.Number = n
		}
		return true
	})
	out, err := pg_query.Deparse(&pg_query.ParseResult{Version: parseVersion, Stmts: []*pg_query.RawStmt{{Stmt: node}}})
	return out, params, err
}

// deparseExpr renders an expression as SQL (for EXPLAIN), or "" when it
// cannot.
func deparseExpr(n *pg_query.Node) string {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{pg_query.MakeResTargetNodeWithVal(proto.Clone(n).(*pg_query.Node), 0)}}
	out, err := pg_query.Deparse(&pg_query.ParseResult{Version: parseVersion, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}})
	if err != nil {
		return fmt.Sprintf("%T", n.Node)
	}
	return strings.TrimPrefix(out, "SELECT ")
}

// parseVersion is the parse tree version Deparse expects of trees built
// here.
var parseVersion = func() int32 {
	t, err := pg_query.Parse("SELECT 1")
	if err != nil {
		panic(err)
	}
	return t.Version
}()

// chainBindJoins lets a scan with no bind join of its own take its keys
// from another scan of the same FROM that is restricted (by predicates
// or its own bind join) and is read first: a user's friends (bound by
// the user's id from PostgreSQL), then those friends' reviews.
func chainBindJoins(sel *pg_query.SelectStmt, items []*fromItem, local map[*fromItem]*scan) {
	where := conjuncts(sel.WhereClause)
	for _, it := range items { // in FROM order, so the plan is the same every time
		sc := local[it]
		if sc == nil || sc.bind != nil {
			continue
		}
		for _, c := range append(append([]*pg_query.Node{}, where...), it.quals...) {
			col, _, f, ok := joinEquality(c, sc)
			if !ok {
				continue
			}
			srcItem := findItem(items, f[0])
			src := local[srcItem]
			if src == nil || src == sc || srcItem.nullable || (src.bind == nil && len(src.preds) == 0) || dependsOn(src, sc) {
				continue
			}
			if _, i, ok := src.table.col(f[1]); !ok || !slices.Contains(src.cols, i) {
				continue
			}
			sc.bind = &bindJoin{col: col, from: src, fromCol: f[1], sql: deparseExpr(c)}
			break
		}
	}
}

// dependsOn reports whether a takes its keys from b, directly or not.
func dependsOn(a, b *scan) bool {
	for s := a; s != nil && s.bind != nil; s = s.bind.from {
		if s.bind.from == b {
			return true
		}
	}
	return false
}

// equalsOperand finds a conjunct alias.col = constant or parameter among
// own (each references one table only).
func equalsOperand(own []*pg_query.Node, col string) (operand, bool) {
	for _, w := range own {
		a := w.GetAExpr()
		if a == nil || a.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(a.Name) != 1 || strs(a.Name)[0] != "=" {
			continue
		}
		ref, val := a.Lexpr, a.Rexpr
		if ref.GetColumnRef() == nil {
			ref, val = val, ref
		}
		cr := ref.GetColumnRef()
		if cr == nil {
			continue
		}
		if f := strs(cr.Fields); len(f) != 2 || f[1] != col {
			continue
		}
		if v, ok := anyOperand(val); ok && (v.param > 0 || v.value != nil) {
			return v, true
		}
	}
	return operand{}, false
}

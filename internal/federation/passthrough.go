package federation

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
)

// planPassthrough reads surreal.query('SurrealQL', args...) AS t(col
// type, ...): the SurrealQL runs as written, with positional arguments
// bound as $arg1, $arg2, ... and named ones (name => value) as $name;
// the last statement's result gives the rows, one per object (a column
// per key of the definition list) or per value when there is one column.
func planPassthrough(it *fromItem, input int) (*passthrough, error) {
	rf := it.fn
	fc := rf.Functions[0].GetList().GetItems()[0].GetFuncCall()
	if it.alias == "" {
		return nil, pgError(codeSyntax, "surreal.query() in FROM needs an alias and a column definition list: surreal.query('...') AS t(col type, ...)")
	}
	defs := rf.Coldeflist
	if len(defs) == 0 && len(rf.Functions[0].GetList().GetItems()) > 1 {
		defs = rf.Functions[0].GetList().GetItems()[1].GetList().GetItems()
	}
	if len(defs) == 0 {
		return nil, pgError(codeSyntax, "surreal.query() needs a column definition list: surreal.query('...') AS %s(col type, ...)", it.alias)
	}
	if rf.Lateral || rf.Ordinality {
		return nil, notSupported("LATERAL or WITH ORDINALITY on surreal.query()")
	}
	if len(fc.Args) == 0 {
		return nil, pgError(codeSyntax, "surreal.query() needs the SurrealQL text as its first argument")
	}
	pt := &passthrough{input: input}
	q, ok := anyOperand(fc.Args[0])
	if !ok {
		return nil, notSupported("surreal.query()'s SurrealQL must be a string constant or a parameter")
	}
	if s, isStr := q.value.(string); q.param == 0 && !isStr {
		return nil, pgError(codeSyntax, "surreal.query()'s first argument must be the SurrealQL text, not %v", s)
	}
	pt.query = q
	for i, a := range fc.Args[1:] {
		name := ""
		if na := a.GetNamedArgExpr(); na != nil {
			name, a = na.Name, na.Arg
		} else {
			name = "arg" + strconv.Itoa(i+1)
		}
		v, ok := anyOperand(a)
		if !ok {
			return nil, notSupported("surreal.query() argument %s: only constants and parameters can be passed to SurrealDB", name)
		}
		pt.args = append(pt.args, namedOperand{name: name, operand: v})
	}
	for _, d := range defs {
		cd := d.GetColumnDef()
		if cd == nil || cd.TypeName == nil {
			return nil, pgError(codeSyntax, "surreal.query(): column definitions are name type")
		}
		typ := typeNameSQL(cd.TypeName)
		if err := mapping.CheckType(typ); err != nil {
			return nil, notSupported("surreal.query() column %s: %v", cd.Colname, err)
		}
		pt.cols = append(pt.cols, colDef{cd.Colname, typ})
	}
	return pt, nil
}

// anyOperand accepts a constant (int, float as text, string, bool) or a
// parameter.
func anyOperand(n *pg_query.Node) (operand, bool) {
	if p := n.GetParamRef(); p != nil {
		return operand{param: int(p.Number)}, true
	}
	c := n.GetAConst()
	if c == nil {
		return operand{}, false
	}
	switch {
	case c.Isnull:
		return operand{value: nil}, true
	case c.GetIval() != nil:
		return operand{value: int64(c.GetIval().Ival)}, true
	case c.GetSval() != nil:
		return operand{value: c.GetSval().Sval}, true
	case c.GetBoolval() != nil:
		return operand{value: c.GetBoolval().Boolval}, true
	case c.GetFval() != nil:
		f, err := strconv.ParseFloat(c.GetFval().Fval, 64)
		if err != nil {
			return operand{}, false
		}
		return operand{value: f}, true
	}
	return operand{}, false
}

// typeNameSQL renders a column definition's type as the mapping names it.
func typeNameSQL(t *pg_query.TypeName) string {
	names := strs(t.Names)
	name := names[len(names)-1]
	switch name {
	case "int8":
		name = "bigint"
	case "int4":
		name = "integer"
	case "float8":
		name = "double precision"
	case "bool":
		name = "boolean"
	case "varchar":
		name = "text"
	}
	if len(t.ArrayBounds) > 0 {
		name += "[]"
	}
	return name
}

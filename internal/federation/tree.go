package federation

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// refuseWrites refuses statements that would write SurrealDB tables.
func refuseWrites(tree *pg_query.ParseResult) error {
	var err error
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		var rel *pg_query.RangeVar
		switch x := n.Node.(type) {
		case *pg_query.Node_InsertStmt:
			rel = x.InsertStmt.Relation
		case *pg_query.Node_UpdateStmt:
			rel = x.UpdateStmt.Relation
		case *pg_query.Node_DeleteStmt:
			rel = x.DeleteStmt.Relation
		case *pg_query.Node_MergeStmt:
			rel = x.MergeStmt.Relation
		case *pg_query.Node_CopyStmt:
			rel = x.CopyStmt.Relation
		case *pg_query.Node_LockStmt, *pg_query.Node_TruncateStmt, *pg_query.Node_CreateTableAsStmt, *pg_query.Node_ViewStmt:
			if touchesSurrealNode(n) {
				err = notSupported("%s on SurrealDB tables; federated SQL reads SurrealDB (write it with SurrealQL or `pgsurreal tx`)", strings.TrimPrefix(fmt.Sprintf("%T", n.Node), "*pg_query.Node_"))
				return false
			}
		}
		if rel != nil && isSurreal(rel) {
			err = notSupported("writing SurrealDB table %s.%s through federated SQL; write it with SurrealQL or `pgsurreal tx`", SurrealSchema, rel.Relname)
			return false
		}
		return true
	})
	return err
}

func touchesSurrealNode(n *pg_query.Node) bool {
	found := false
	walkNode(n, func(m *pg_query.Node) bool {
		if rv := m.GetRangeVar(); rv != nil && isSurreal(rv) {
			found = true
		}
		return !found
	})
	return found
}

// checkLeftovers refuses SurrealDB references the planner did not
// replace (in places it does not read from, such as a function call
// outside FROM).
func checkLeftovers(tree *pg_query.ParseResult) error {
	var err error
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		switch x := n.Node.(type) {
		case *pg_query.Node_RangeVar:
			if isSurreal(x.RangeVar) {
				err = notSupported("SurrealDB table %s.%s in this position", SurrealSchema, x.RangeVar.Relname)
			}
		case *pg_query.Node_FuncCall:
			if isSurrealQuery(x.FuncCall) {
				err = notSupported("surreal.query() outside FROM; call it in FROM with a column definition list: FROM surreal.query('...') AS t(col type, ...)")
			}
		}
		return err == nil
	})
	return err
}

// stripSurrealQualifiers turns surreal.table.column references into
// table.column, which name the replacement's alias.
func stripSurrealQualifiers(tree *pg_query.ParseResult) {
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) >= 3 {
			if s := cr.Fields[0].GetString_(); s != nil && s.Sval == SurrealSchema {
				cr.Fields = cr.Fields[1:]
			}
		}
		return true
	})
}

// maxParam is the highest $n in the statement.
func maxParam(tree *pg_query.ParseResult) int {
	m := 0
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		if p := n.GetParamRef(); p != nil && int(p.Number) > m {
			m = int(p.Number)
		}
		return true
	})
	return m
}

// referencedNames is every column name the statement mentions ("*" for
// a star or a whole-row reference), so a scan reads only those columns
// and never hides one that a reference would have found.
func referencedNames(tree *pg_query.ParseResult) map[string]bool {
	out := map[string]bool{}
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		switch x := n.Node.(type) {
		case *pg_query.Node_ColumnRef:
			f := x.ColumnRef.Fields
			last := f[len(f)-1]
			if s := last.GetString_(); s != nil {
				out[s.Sval] = true
				if len(f) == 1 {
					out["*"+s.Sval] = true // maybe a whole-row reference
				}
			} else {
				out["*"] = true
			}
		case *pg_query.Node_JoinExpr:
			if x.JoinExpr.IsNatural {
				out["*"] = true
			}
			for _, u := range strs(x.JoinExpr.UsingClause) {
				out[u] = true
			}
		}
		return true
	})
	return out
}

// cteNames are the names WITH clauses define.
func cteNames(tree *pg_query.ParseResult) map[string]bool {
	out := map[string]bool{}
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		if c := n.GetCommonTableExpr(); c != nil {
			out[c.Ctename] = true
		}
		return true
	})
	return out
}

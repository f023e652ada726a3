package federation

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walk calls visit for every *pg_query.Node in the tree below m, parents
// before children. visit returns false to skip a node's children (after
// replacing the node, say). Some SelectStmts and RangeVars are held
// directly, not in a Node: a set operation's arms (larg, rarg) and the
// target of INSERT, UPDATE, DELETE, SELECT INTO and the like. They are
// visited wrapped in a Node, so UNION arms and recursive CTEs are
// planned like any other SELECT and a write to a SurrealDB table is seen.
func walk(m protoreflect.Message, visit func(n *pg_query.Node) bool) {
	_, inNode := m.Interface().(*pg_query.Node)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkMessage(l.Get(i).Message(), visit)
			}
		case fd.Message() != nil && !fd.IsMap():
			if n := bareNode(v.Message()); n != nil && !inNode {
				if visit(n) {
					walk(v.Message(), visit)
				}
				return true
			}
			walkMessage(v.Message(), visit)
		}
		return true
	})
}

// bareNode wraps a SelectStmt or RangeVar in a Node, or returns nil.
func bareNode(m protoreflect.Message) *pg_query.Node {
	switch x := m.Interface().(type) {
	case *pg_query.SelectStmt:
		return &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: x}}
	case *pg_query.RangeVar:
		return &pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: x}}
	}
	return nil
}

func walkMessage(m protoreflect.Message, visit func(n *pg_query.Node) bool) {
	if n, ok := m.Interface().(*pg_query.Node); ok {
		if !visit(n) {
			return
		}
	}
	walk(m, visit)
}

// walkNode walks n and everything below it.
func walkNode(n *pg_query.Node, visit func(n *pg_query.Node) bool) {
	if n == nil {
		return
	}
	walkMessage(n.ProtoReflect(), visit)
}

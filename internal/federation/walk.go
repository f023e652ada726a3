package federation

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walk calls visit for every *pg_query.Node in the tree below m, parents
// before children. visit returns false to skip a node's children (after
// replacing the node, say).
func walk(m protoreflect.Message, visit func(n *pg_query.Node) bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkMessage(l.Get(i).Message(), visit)
			}
		case fd.Message() != nil && !fd.IsMap():
			walkMessage(v.Message(), visit)
		}
		return true
	})
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

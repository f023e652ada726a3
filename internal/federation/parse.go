package federation

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// SurrealSchema is the schema SurrealDB tables are named under.
const SurrealSchema = "surreal"

// SQLSTATE codes of the errors the planner returns.
const (
	codeSyntax       = "42601"
	codeUndefinedTab = "42P01"
	codeUndefinedCol = "42703"
	codeNotSupported = "0A000"
	codeInvalidParam = "22023"
	codeTimeout      = "57014"
	codeSurreal      = "58000" // system_error: SurrealDB failed
	codeConnFailure  = "08006" // connection_failure: SurrealDB unreachable
)

// pgError is an error a client sees with a SQLSTATE.
func pgError(code, format string, args ...any) *pgconn.PgError {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: fmt.Sprintf(format, args...)}
}

func notSupported(format string, args ...any) *pgconn.PgError {
	return pgError(codeNotSupported, "not supported: "+format, args...)
}

var explainFederated = regexp.MustCompile(`(?is)^\s*explain\s+federated\b\s*`)

// AsExplain returns sql as an EXPLAIN FEDERATED statement (unchanged if it
// is one already).
func AsExplain(sql string) string {
	if explainFederated.MatchString(sql) {
		return sql
	}
	return "EXPLAIN FEDERATED " + sql
}

// parse parses one statement. explain reports an EXPLAIN FEDERATED
// prefix, which is removed (offset is its length, for error positions).
func parse(sql string) (tree *pg_query.ParseResult, explain bool, offset int, err error) {
	if loc := explainFederated.FindStringIndex(sql); loc != nil {
		explain, offset = true, loc[1]
		sql = sql[offset:]
	}
	tree, err = pg_query.Parse(sql)
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			e := pgError(codeSyntax, "%s", pe.Message)
			if pe.Cursorpos > 0 {
				e.Position = int32(pe.Cursorpos + offset)
			}
			return nil, false, 0, e
		}
		return nil, false, 0, pgError(codeSyntax, "%v", err)
	}
	switch len(tree.Stmts) {
	case 0:
		if explain {
			return nil, false, 0, pgError(codeSyntax, "EXPLAIN FEDERATED needs a statement")
		}
	case 1:
	default:
		if explain || touchesSurreal(tree) {
			return nil, false, 0, notSupported("several statements in one federated query; send them one at a time")
		}
	}
	return tree, explain, offset, nil
}

// touchesSurreal reports whether the tree names a SurrealDB table or
// calls surreal.query.
func touchesSurreal(tree *pg_query.ParseResult) bool {
	found := false
	walk(tree.ProtoReflect(), func(n *pg_query.Node) bool {
		switch x := n.Node.(type) {
		case *pg_query.Node_RangeVar:
			if isSurreal(x.RangeVar) {
				found = true
			}
		case *pg_query.Node_FuncCall:
			if isSurrealQuery(x.FuncCall) {
				found = true
			}
		}
		return !found
	})
	return found
}

func isSurreal(rv *pg_query.RangeVar) bool {
	return rv != nil && rv.Schemaname == SurrealSchema && rv.Catalogname == ""
}

func isSurrealQuery(fc *pg_query.FuncCall) bool {
	names := strs(fc.Funcname)
	return len(names) == 2 && names[0] == SurrealSchema && names[1] == "query"
}

// strs returns the String values of a list of String nodes.
func strs(nodes []*pg_query.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if s := n.GetString_(); s != nil {
			out = append(out, s.Sval)
		} else {
			out = append(out, "*")
		}
	}
	return out
}

// SplitStatements splits a simple-query string into its statements with
// the PostgreSQL parser (for the wire server).
func SplitStatements(sql string) ([]string, error) {
	parts, err := pg_query.SplitWithParser(sql, true)
	if err != nil {
		_, _, _, perr := parse(sql)
		if perr != nil {
			return nil, perr
		}
		return nil, err
	}
	out := parts[:0]
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

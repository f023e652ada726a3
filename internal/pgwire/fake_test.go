package pgwire

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/pgsurreal/pgsurreal/internal/federation"
)

// fakePlanner stands in for the federation engine so that the session's
// federated path runs against the real PostgreSQL before (and besides)
// the engine: it rewrites surreal.person into jsonb_to_recordset over an
// added parameter, as the engine does, and has a few tables that fail.
type fakePlanner struct {
	mu     sync.Mutex
	params [][]any // what Inputs was given, in order
	block  chan struct{}
}

const personJSON = `[{"name":"ada","age":36},{"name":"bob","age":20},{"name":"cy","age":50}]`

func (f *fakePlanner) Prepare(_ context.Context, sql string) (fedStatement, error) {
	explain := strings.HasPrefix(strings.ToUpper(strings.TrimSpace(sql)), "EXPLAIN FEDERATED")
	if explain {
		sql = strings.TrimSpace(sql)[len("EXPLAIN FEDERATED"):]
	}
	switch {
	case strings.Contains(sql, "surreal.missing"):
		e := pgErr("42P01", `relation "surreal.missing" does not exist`)
		e.Position = int32(strings.Index(sql, "surreal.missing") + 1)
		return nil, e
	case !strings.Contains(sql, "surreal."):
		return nil, nil
	}
	n := paramCount(sql)
	st := &fakeStmt{f: f, n: n, explain: explain, failInputs: strings.Contains(sql, "surreal.broken"), block: strings.Contains(sql, "surreal.slow")}
	st.sql = surrealTable.ReplaceAllStringFunc(sql, func(m string) string {
		alias := "person"
		if sm := surrealTable.FindStringSubmatch(m); sm[1] != "" {
			alias = sm[1]
		}
		return fmt.Sprintf("jsonb_to_recordset($%d) AS %s(name text, age int)", n+1, alias)
	})
	return st, nil
}

func (f *fakePlanner) seen() [][]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]any(nil), f.params...)
}

// surrealTable is a SurrealDB table with an optional AS alias.
var surrealTable = regexp.MustCompile(`surreal\.\w+(?:\s+AS\s+(\w+))?`)

type fakeStmt struct {
	f          *fakePlanner
	sql        string
	n          int
	explain    bool
	failInputs bool
	block      bool
}

func (s *fakeStmt) SQL() string     { return s.sql }
func (s *fakeStmt) NumParams() int  { return s.n }
func (s *fakeStmt) IsExplain() bool { return s.explain }

func (s *fakeStmt) Inputs(ctx context.Context, q federation.Querier, params []any, _ federation.QueryOptions) ([]any, error) {
	s.f.mu.Lock()
	s.f.params = append(s.f.params, params)
	s.f.mu.Unlock()
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.failInputs {
		return nil, errors.New("surrealdb: table broken is unreadable")
	}
	// The engine reads the session's settings on the same connection.
	var setting string
	if err := q.QueryRow(ctx, "SELECT coalesce(current_setting('pgsurreal.consistency', true), '')").Scan(&setting); err != nil {
		return nil, err
	}
	return []any{personJSON}, nil
}

func (s *fakeStmt) Explain(ctx context.Context, q federation.Querier, params []any, o federation.QueryOptions) ([]string, error) {
	if _, err := s.Inputs(ctx, q, params, o); err != nil {
		return nil, err
	}
	return []string{"SurrealDB: SELECT name, age FROM person", "PostgreSQL: " + s.sql}, nil
}

// paramCount is the highest $n in sql.
func paramCount(sql string) int {
	res, err := pg_query.Scan(sql)
	if err != nil {
		return 0
	}
	n := 0
	for _, t := range res.Tokens {
		if t.Token == pg_query.Token_PARAM {
			if v, err := strconv.Atoi(sql[t.Start+1 : t.End]); err == nil && v > n {
				n = v
			}
		}
	}
	return n
}

package pgwire

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/federation"
)

// planner is what the server needs of the federation engine: Prepare
// returns a nil statement (and no error) for a statement PostgreSQL
// answers alone.
type planner interface {
	Prepare(ctx context.Context, sql string) (fedStatement, error)
}

// fedStatement is a planned federated statement (*federation.Statement).
type fedStatement interface {
	SQL() string
	NumParams() int
	IsExplain() bool
	Inputs(ctx context.Context, q federation.Querier, params []any, o federation.QueryOptions) ([]any, error)
	Explain(ctx context.Context, q federation.Querier, params []any, o federation.QueryOptions) ([]string, error)
}

var _ fedStatement = (*federation.Statement)(nil)

// enginePlanner adapts *federation.Engine, turning its typed nil
// statement into a nil interface.
type enginePlanner struct{ e *federation.Engine }

func (p enginePlanner) Prepare(ctx context.Context, sql string) (fedStatement, error) {
	st, err := p.e.Prepare(ctx, sql)
	if err != nil || st == nil {
		return nil, err
	}
	return st, nil
}

// passThrough plans nothing: without an engine every statement goes to
// PostgreSQL unchanged.
type passThrough struct{}

func (passThrough) Prepare(context.Context, string) (fedStatement, error) { return nil, nil }

// oidText is PostgreSQL's text type.
const oidText = 25

// result is a whole statement result read from the backend.
type result struct {
	fields []pgconn.FieldDescription // nil for a statement without rows
	rows   [][][]byte
	tag    string
}

// queryPlanFields describe EXPLAIN FEDERATED's one text column, as
// PostgreSQL's EXPLAIN does.
func queryPlanFields() []pgconn.FieldDescription {
	return []pgconn.FieldDescription{{Name: "QUERY PLAN", DataTypeOID: oidText, DataTypeSize: -1, TypeModifier: -1}}
}

// runFed runs a federated statement on the session's connection (the
// relay parked): the engine reads SurrealDB for the client's parameters,
// and PostgreSQL runs the rewritten statement with the client's values
// followed by the engine's. fs is the prepared statement (nil in a simple
// query, where there are no client parameters and results are text).
func (s *session) runFed(ctx context.Context, st fedStatement, fs *fedStmt, params []any, values [][]byte, formats, resultFormats []int16) (res *result, err error) {
	defer func() {
		if err == nil {
			s.srv.m.query(routeFed, false)
		}
	}()
	if s.tx == 'E' {
		return nil, pgErr(codeInFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
	}
	if st.IsExplain() {
		q := &usedQuerier{c: s.pg}
		lines, err := st.Explain(ctx, q, params, federation.QueryOptions{})
		q.after(s)
		if err != nil {
			return nil, err
		}
		res := &result{fields: queryPlanFields(), tag: "EXPLAIN"}
		for _, l := range lines {
			res.rows = append(res.rows, [][]byte{[]byte(l)})
		}
		return res, nil
	}
	q := &usedQuerier{c: s.pg}
	inputs, err := st.Inputs(ctx, q, params, federation.QueryOptions{})
	q.after(s)
	if err != nil {
		return nil, err
	}
	n := len(values)
	var extraOIDs []uint32
	if fs != nil && len(fs.allOIDs) > n {
		extraOIDs = fs.allOIDs[n:]
	}
	enc, err := encodeInputs(s.pg.TypeMap(), extraOIDs, inputs)
	if err != nil {
		return nil, err
	}
	all := append(slices.Clip(values), enc...)
	fmts := make([]int16, len(all))
	for i := range n {
		fmts[i] = formatAt(formats, i)
	}
	res, err = s.execRewritten(ctx, st, fs, all, fmts, resultFormats)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeUndefinedStmt && fs != nil && !fs.dropped {
		// The client's DEALLOCATE ALL or DISCARD ALL removed the backend
		// statement: run the rewritten SQL unnamed from now on.
		fs.dropped = true
		if s.tx != 'E' {
			res, err = s.execRewritten(ctx, st, fs, all, fmts, resultFormats)
		}
	}
	if err != nil {
		return nil, withoutPosition(err)
	}
	return res, nil
}

// execRewritten runs the rewritten statement with all its parameters and
// reads the whole result.
func (s *session) execRewritten(ctx context.Context, st fedStatement, fs *fedStmt, values [][]byte, formats, resultFormats []int16) (*result, error) {
	pc := s.pg.PgConn()
	var rr *pgconn.ResultReader
	if fs != nil && !fs.dropped {
		rr = pc.ExecPrepared(ctx, fs.backend, values, formats, resultFormats)
	} else {
		var oids []uint32
		if fs != nil {
			oids = fs.allOIDs
		}
		rr = pc.ExecParams(ctx, st.SQL(), values, oids, formats, resultFormats)
	}
	res := &result{fields: slices.Clone(rr.FieldDescriptions())}
	for rr.NextRow() {
		row := make([][]byte, len(rr.Values()))
		for i, v := range rr.Values() {
			if v != nil {
				row[i] = slices.Clone(v)
			}
		}
		res.rows = append(res.rows, row)
	}
	tag, err := rr.Close()
	s.afterOp()
	if err != nil {
		return nil, err
	}
	res.tag = tag.String()
	return res, nil
}

// withoutPosition drops the cursor position of an error PostgreSQL
// raised on a rewritten statement: it points into SQL the client never
// sent.
func withoutPosition(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Position > 0 {
		c := *pe
		c.Position = 0
		return &c
	}
	return err
}

// usedQuerier is the session's connection as the engine sees it; it notes
// whether the engine ran anything, since only then does pgx know the
// connection's current transaction status (the relay reads PostgreSQL's
// answers past pgx).
type usedQuerier struct {
	c    *pgx.Conn
	used atomic.Bool
}

var _ federation.Querier = (*usedQuerier)(nil)

func (q *usedQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	q.used.Store(true)
	return q.c.Query(ctx, sql, args...)
}

func (q *usedQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	q.used.Store(true)
	return q.c.QueryRow(ctx, sql, args...)
}

func (q *usedQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.used.Store(true)
	return q.c.Exec(ctx, sql, args...)
}

func (q *usedQuerier) after(s *session) {
	if q.used.Load() {
		s.afterOp()
	}
}

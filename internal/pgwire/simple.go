package pgwire

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgsurreal/pgsurreal/internal/federation"
)

// part is one statement of a simple query.
type part struct {
	sql    string
	offset int // characters before it in the query string, for error positions
	stmt   fedStatement
	err    error
}

var explainFederated = regexp.MustCompile(`(?is)^\s*explain\s+federated\b`)

// plan classifies a statement. A syntax error of the planner's parser is
// left to PostgreSQL, whose message and position the client then sees
// exactly (unless the statement is EXPLAIN FEDERATED, which only
// pgsurreal understands).
func (s *session) plan(sql string) (fedStatement, error) {
	st, err := s.srv.planner.Prepare(s.ctx, sql)
	var pe *pgconn.PgError
	if err != nil && errors.As(err, &pe) && pe.Code == "42601" && !explainFederated.MatchString(sql) {
		return nil, nil
	}
	return st, err
}

// splitQuery plans each statement of a simple query; federated reports
// whether any needs the session (a federated statement or a planning
// error).
func (s *session) splitQuery(sql string) (parts []part, federated bool) {
	stmts, err := federation.SplitStatements(sql)
	if err != nil {
		// Not SQL PostgreSQL parses, but perhaps EXPLAIN FEDERATED.
		stmts = []string{sql}
	}
	pos := 0
	for _, st := range stmts {
		p := part{sql: st, offset: -1}
		if i := strings.Index(sql[pos:], st); i >= 0 {
			p.offset = utf8.RuneCountInString(sql[:pos+i])
			pos += i + len(st)
		}
		p.stmt, p.err = s.plan(st)
		if p.stmt != nil || p.err != nil {
			federated = true
		}
		parts = append(parts, p)
	}
	return parts, federated
}

// simpleQuery serves a Query message. Without a federated statement the
// whole string goes to PostgreSQL; otherwise the statements run one at a
// time, each federated one through the engine, stopping at the first
// error as PostgreSQL does.
func (s *session) simpleQuery(sql string) error {
	parts, federated := s.splitQuery(sql)
	if !federated {
		return s.forwardQuery(&pgproto3.Query{String: sql})
	}
	if err := s.pause(s.ctx); err != nil {
		return err
	}
	if s.skip {
		return nil // inside a failed extended batch PostgreSQL ignores it
	}
	for _, p := range parts {
		if err := s.runPart(p); err != nil {
			pe := asPgError(err)
			if pe.Position > 0 && p.offset > 0 {
				c := *pe
				c.Position += int32(p.offset)
				pe = &c
			}
			if err := s.report(pe); err != nil {
				return err
			}
			break
		}
	}
	if s.tx == 'I' {
		s.idleEpoch = s.epoch
	}
	s.epoch++
	s.cl.Send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
	if err := s.flushClient(); err != nil {
		return err
	}
	return s.resume() // let notifications through while the client waits
}

// runPart runs one statement of a simple query and sends its results.
func (s *session) runPart(p part) error {
	if p.err != nil {
		s.srv.m.query(routeFed, true)
		return s.inAbortedTx(p.err)
	}
	ctx, done := s.op()
	defer done()
	if p.stmt == nil {
		return s.runPlain(ctx, p.sql)
	}
	res, err := s.runFed(ctx, p.stmt, nil, nil, nil, nil, nil)
	if err != nil {
		s.srv.m.query(routeFed, true)
		return err
	}
	if res.fields != nil {
		s.cl.Send(rowDescription(res.fields))
	}
	for _, r := range res.rows {
		s.cl.Send(&pgproto3.DataRow{Values: r})
	}
	s.cl.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.tag)})
	return nil
}

// runPlain runs a statement that needs no SurrealDB through pgconn,
// relaying its results unchanged.
func (s *session) runPlain(ctx context.Context, sql string) error {
	mrr := s.pg.PgConn().Exec(ctx, sql)
	defer s.afterOp()
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		if fds := rr.FieldDescriptions(); fds != nil {
			s.cl.Send(rowDescription(fds))
		}
		n := 0
		for rr.NextRow() {
			s.cl.Send(&pgproto3.DataRow{Values: rr.Values()})
			if n++; n%256 == 0 {
				if err := s.flushClient(); err != nil {
					_ = mrr.Close()
					return err
				}
			}
		}
		tag, err := rr.Close()
		s.srv.m.query(routePass, err != nil)
		if err != nil {
			_ = mrr.Close()
			return err
		}
		s.cl.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag.String())})
	}
	return mrr.Close()
}

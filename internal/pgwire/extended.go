package pgwire

import (
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Extended-protocol messages about statements and portals PostgreSQL
// knows are forwarded with the client's names unchanged, so PostgreSQL's
// own errors ("prepared statement "x" does not exist") read exactly. A
// federated statement exists on the backend under a name of the
// session's own (pgw_<n>) with the rewritten SQL; its portals live in the
// session, which runs them when executed.

// fedStmt is a client's prepared federated statement.
type fedStmt struct {
	st        fedStatement
	backend   string   // backend statement name; "" when there is no SQL to prepare
	dropped   bool     // the backend statement was deallocated
	n         int      // parameters the client binds
	paramOIDs []uint32 // their types, as PostgreSQL resolved them
	allOIDs   []uint32 // the backend statement's parameter types
	fields    []pgconn.FieldDescription
}

// fedPortal is a bound federated statement; its result is read whole on
// the first Execute and handed out in Execute's row counts.
type fedPortal struct {
	stmt          *fedStmt
	params        []any
	values        [][]byte
	formats       []int16
	resultFormats []int16
	epoch         int64 // the client Sync it was bound in

	ran       bool
	res       *result
	next      int
	suspended bool
}

// parse serves Parse.
func (s *session) parse(m *pgproto3.Parse) error {
	st, err := s.plan(m.Query)
	if err != nil {
		return s.fail(err)
	}
	_, exists := s.stmts[m.Name]
	if exists && m.Name != "" {
		return s.fail(pgErr(codeDupStatement, "prepared statement %s already exists", quoteIdent(m.Name)))
	}
	if st == nil {
		s.dropStmt(m.Name)
		return s.forward(m, false)
	}
	name, oids := m.Name, slices.Clone(m.ParameterOIDs)
	if err := s.pause(s.ctx); err != nil || s.skip {
		return err
	}
	if name != "" {
		var taken bool
		ctx, done := s.op()
		err := s.pg.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements WHERE name = $1)", name).Scan(&taken)
		done()
		s.afterOp()
		if err != nil {
			return s.fail(err)
		}
		if taken {
			return s.fail(pgErr(codeDupStatement, "prepared statement %s already exists", quoteIdent(name)))
		}
	}
	fs, err := s.prepareFed(st, oids)
	if err != nil {
		return s.fail(err)
	}
	s.dropStmt(name)
	s.stmts[name] = fs
	s.cl.Send(&pgproto3.ParseComplete{})
	return nil
}

// prepareFed prepares the rewritten statement on the backend with the
// client's parameter types; PostgreSQL infers the added ones (jsonb).
func (s *session) prepareFed(st fedStatement, oids []uint32) (*fedStmt, error) {
	n := st.NumParams()
	if len(oids) > n {
		oids = oids[:n]
	}
	fs := &fedStmt{st: st, n: n}
	if st.SQL() != "" {
		s.nextID++
		fs.backend = fmt.Sprintf("pgw_%d", s.nextID)
		ctx, done := s.op()
		desc, err := s.pg.PgConn().Prepare(ctx, fs.backend, st.SQL(), oids)
		done()
		s.afterOp()
		if err != nil {
			return nil, withoutPosition(err)
		}
		if len(desc.ParamOIDs) < n {
			s.stale = append(s.stale, fs.backend)
			return nil, pgErr(codeInternal, "federated statement has %d parameters, fewer than the %d of the query", len(desc.ParamOIDs), n)
		}
		fs.allOIDs, fs.paramOIDs, fs.fields = desc.ParamOIDs, desc.ParamOIDs[:n], desc.Fields
	} else {
		fs.paramOIDs = make([]uint32, n)
		for i := range fs.paramOIDs {
			fs.paramOIDs[i] = oidText
			if i < len(oids) && oids[i] != 0 {
				fs.paramOIDs[i] = oids[i]
			}
		}
		fs.allOIDs = fs.paramOIDs
	}
	if st.IsExplain() {
		fs.fields = queryPlanFields()
	}
	return fs, nil
}

// dropStmt forgets a federated statement (and its portals, as Close does
// in PostgreSQL); its backend statement is deallocated at the next pause.
func (s *session) dropStmt(name string) {
	fs := s.stmts[name]
	if fs == nil {
		return
	}
	delete(s.stmts, name)
	if fs.backend != "" && !fs.dropped {
		fs.dropped = true
		s.stale = append(s.stale, fs.backend)
	}
}

// livePortal returns the federated portal name, if it still exists: a
// portal ends with the transaction it was bound in, which for a portal of
// an earlier batch the session learns by parking the relay.
func (s *session) livePortal(name string) (*fedPortal, error) {
	p := s.portals[name]
	if p == nil {
		return nil, nil
	}
	if p.epoch < s.epoch {
		if err := s.pause(s.ctx); err != nil {
			return nil, err
		}
		if p.epoch <= s.idleEpoch {
			delete(s.portals, name)
			return nil, nil
		}
	}
	return p, nil
}

// bind serves Bind.
func (s *session) bind(m *pgproto3.Bind) error {
	fs := s.stmts[m.PreparedStatement]
	p, err := s.livePortal(m.DestinationPortal)
	if err != nil {
		return err
	}
	if p != nil && m.DestinationPortal != "" {
		return s.fail(pgErr(codeDupCursor, "cursor %s already exists", quoteIdent(m.DestinationPortal)))
	}
	delete(s.portals, m.DestinationPortal)
	if fs == nil {
		return s.forward(m, false)
	}
	name := m.DestinationPortal
	p = &fedPortal{
		stmt: fs, epoch: s.epoch,
		formats: slices.Clone(m.ParameterFormatCodes), resultFormats: slices.Clone(m.ResultFormatCodes),
		values: make([][]byte, len(m.Parameters)),
	}
	for i, v := range m.Parameters {
		if v != nil {
			p.values[i] = slices.Clone(v)
		}
	}
	if err := s.pause(s.ctx); err != nil || s.skip {
		return err
	}
	switch {
	case len(p.values) != fs.n:
		return s.fail(pgErr(codeProtocolViolation, "bind message supplies %d parameters, but prepared statement %s requires %d", len(p.values), quoteIdent(m.PreparedStatement), fs.n))
	case len(p.formats) > 1 && len(p.formats) != len(p.values):
		return s.fail(pgErr(codeProtocolViolation, "bind message has %d parameter formats but %d parameters", len(p.formats), len(p.values)))
	case len(p.resultFormats) > 1 && len(p.resultFormats) != len(fs.fields):
		return s.fail(pgErr(codeProtocolViolation, "bind message has %d result formats but query has %d columns", len(p.resultFormats), len(fs.fields)))
	}
	if s.tx == 'E' {
		return s.fail(s.inAbortedTx(nil))
	}
	params, err := decodeParams(s.pg.TypeMap(), fs.paramOIDs, p.formats, p.values)
	if err != nil {
		return s.fail(err)
	}
	p.params = params
	s.portals[name] = p
	s.cl.Send(&pgproto3.BindComplete{})
	return nil
}

// describe serves Describe.
func (s *session) describe(m *pgproto3.Describe) error {
	if m.ObjectType == 'S' {
		fs := s.stmts[m.Name]
		if fs == nil {
			return s.forward(m, false)
		}
		if err := s.pause(s.ctx); err != nil || s.skip {
			return err
		}
		s.cl.Send(&pgproto3.ParameterDescription{ParameterOIDs: fs.paramOIDs})
		s.sendRowDescription(fs, nil)
		return nil
	}
	p, err := s.livePortal(m.Name)
	if err != nil || p == nil {
		if err == nil {
			err = s.forward(m, false)
		}
		return err
	}
	if err := s.pause(s.ctx); err != nil || s.skip {
		return err
	}
	s.sendRowDescription(p.stmt, p.resultFormats)
	return nil
}

func (s *session) sendRowDescription(fs *fedStmt, formats []int16) {
	if len(fs.fields) == 0 {
		s.cl.Send(&pgproto3.NoData{})
		return
	}
	rd := rowDescription(fs.fields)
	if formats != nil {
		rd = withFormats(rd, formats)
	}
	s.cl.Send(rd)
}

// execute serves Execute: the first runs the statement, later ones hand
// out the rest of the result.
func (s *session) execute(m *pgproto3.Execute) error {
	p, err := s.livePortal(m.Portal)
	if err != nil || p == nil {
		if err == nil {
			err = s.forward(m, false)
		}
		return err
	}
	maxRows := int(m.MaxRows)
	if err := s.pause(s.ctx); err != nil || s.skip {
		return err
	}
	if !p.ran {
		ctx, done := s.op()
		res, err := s.runFed(ctx, p.stmt.st, p.stmt, p.params, p.values, p.formats, p.resultFormats)
		done()
		if err != nil {
			delete(s.portals, m.Portal)
			return s.fail(err)
		}
		p.ran, p.res = true, res
	}
	rows := p.res.rows[p.next:]
	if maxRows > 0 && len(rows) > maxRows {
		for _, r := range rows[:maxRows] {
			s.cl.Send(&pgproto3.DataRow{Values: r})
		}
		p.next += maxRows
		p.suspended = true
		s.cl.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	for _, r := range rows {
		s.cl.Send(&pgproto3.DataRow{Values: r})
	}
	p.next += len(rows)
	tag := p.res.tag
	if p.suspended && len(tag) > 7 && tag[:7] == "SELECT " {
		tag = fmt.Sprintf("SELECT %d", len(rows))
	}
	s.cl.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// closeMsg serves Close.
func (s *session) closeMsg(m *pgproto3.Close) error {
	if m.ObjectType == 'S' {
		if s.stmts[m.Name] == nil {
			return s.forward(m, false)
		}
		if err := s.pause(s.ctx); err != nil || s.skip {
			return err
		}
		fs := s.stmts[m.Name]
		for name, p := range s.portals {
			if p.stmt == fs {
				delete(s.portals, name)
			}
		}
		s.dropStmt(m.Name)
		s.cl.Send(&pgproto3.CloseComplete{})
		return nil
	}
	if s.portals[m.Name] == nil {
		return s.forward(m, false)
	}
	if err := s.pause(s.ctx); err != nil || s.skip {
		return err
	}
	delete(s.portals, m.Name)
	s.cl.Send(&pgproto3.CloseComplete{})
	return nil
}

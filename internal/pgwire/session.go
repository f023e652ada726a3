package pgwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// reportedParams are the settings PostgreSQL reports to clients
// (GUC_REPORT); the session copies the backend's values.
var reportedParams = []string{
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "scram_iterations",
	"server_encoding", "server_version", "session_authorization", "standard_conforming_strings", "TimeZone",
}

// session is one authenticated client and its own PostgreSQL connection.
// The goroutine running run owns the client's input; the relay goroutine
// (relay.go) owns the client's output while it runs and hands it back
// when parked.
type session struct {
	srv *Server
	log *slog.Logger
	ctx context.Context

	conn net.Conn          // the client
	cl   *pgproto3.Backend // the client's protocol
	pg   *pgx.Conn         // the backend
	fe   *pgproto3.Frontend

	pid    uint32 // key data given to the client
	secret []byte

	relay

	// Owned by run.
	skip     bool  // an extended-protocol message failed: ignore all but Sync
	dirty    bool  // extended messages were forwarded since the last Sync
	epoch    int64 // client Syncs (and simple queries) so far
	unsent   int   // messages buffered for the backend since its last flush
	stmts    map[string]*fedStmt
	portals  map[string]*fedPortal
	nextID   int
	failSeq  int
	stale    []string          // backend statements to deallocate
	pgParams map[string]string // pgconn's view of the reported settings

	opMu     sync.Mutex
	opCancel context.CancelFunc
}

func newSession(ctx context.Context, srv *Server, conn net.Conn, cl *pgproto3.Backend, log *slog.Logger) *session {
	cl.SetMaxBodyLen(1 << 30)
	return &session{
		srv: srv, log: log, ctx: ctx, conn: conn, cl: cl,
		stmts: map[string]*fedStmt{}, portals: map[string]*fedPortal{}, pgParams: map[string]string{},
	}
}

// connect opens the backend connection with the client's startup
// settings (application_name, options, DateStyle, ...), except the ones
// pgsurreal decides: user, database, replication, client_encoding (UTF8).
func (s *session) connect(ctx context.Context, params map[string]string) error {
	cfg := s.srv.o.Postgres
	cc, err := pgx.ParseConfig(cfg.ConnString())
	if err != nil {
		return fatal(codeConnectionFailure, "pgsurreal cannot connect to PostgreSQL: %s", postgres.Explain(cfg, err))
	}
	for k, v := range params {
		switch k {
		case "user", "database", "replication", "client_encoding":
			continue
		}
		if !strings.HasPrefix(k, "_pq_.") {
			cc.RuntimeParams[k] = v
		}
	}
	// Unnamed statements only: the client's named ones live on the same
	// connection and a DEALLOCATE ALL of theirs must not break the engine.
	cc.StatementCacheCapacity = 0
	cc.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { s.cl.Send(noticeResponse(n)) }
	cc.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		s.cl.Send(&pgproto3.NotificationResponse{PID: n.PID, Channel: n.Channel, Payload: n.Payload})
	}
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 10 * time.Second}
	}
	pg, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "42") || strings.HasPrefix(pe.Code, "22")) {
			return pe // a bad setting in the client's startup packet
		}
		return fatal(codeConnectionFailure, "pgsurreal cannot connect to PostgreSQL: %s", postgres.Explain(cfg, err))
	}
	s.pg, s.fe = pg, pg.PgConn().Frontend()
	s.tx = pg.PgConn().TxStatus()
	for _, k := range reportedParams {
		s.pgParams[k] = pg.PgConn().ParameterStatus(k)
	}
	return nil
}

// greet sends the backend's settings, the key data and ReadyForQuery.
func (s *session) greet() {
	pc := s.pg.PgConn()
	for _, k := range reportedParams {
		if v := pc.ParameterStatus(k); v != "" {
			s.cl.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
		}
	}
	s.cl.Send(&pgproto3.BackendKeyData{ProcessID: s.pid, SecretKey: s.secret})
	s.cl.Send(&pgproto3.ReadyForQuery{TxStatus: s.tx})
}

// closeBackend closes a backend connection that never served.
func (s *session) closeBackend() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.pg.Close(ctx)
}

// errTerminate ends a session at the client's request.
var errTerminate = errors.New("client terminated the session")

// run serves the client until it leaves or a connection fails.
func (s *session) run() error {
	s.startRelay()
	defer s.close()
	defer s.srv.unregister(s)
	for {
		msg, err := s.cl.Receive()
		if err != nil {
			return err
		}
		if err := s.dispatch(msg); err != nil {
			if errors.Is(err, errTerminate) {
				return nil
			}
			return err
		}
	}
}

// dispatch handles one client message. Messages about federated
// statements and portals are answered by the session itself; all others
// go to PostgreSQL unchanged.
func (s *session) dispatch(msg pgproto3.FrontendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.Terminate:
		return errTerminate
	case *pgproto3.Sync:
		return s.sync()
	case *pgproto3.CopyData:
		return s.forward(m, false)
	case *pgproto3.CopyDone, *pgproto3.CopyFail:
		return s.forward(m, true)
	}
	if s.skip {
		return nil // as PostgreSQL: after an error, everything up to Sync is ignored
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		return s.simpleQuery(m.String)
	case *pgproto3.FunctionCall:
		return s.forwardQuery(m)
	case *pgproto3.Parse:
		return s.parse(m)
	case *pgproto3.Bind:
		return s.bind(m)
	case *pgproto3.Describe:
		return s.describe(m)
	case *pgproto3.Execute:
		return s.execute(m)
	case *pgproto3.Close:
		return s.closeMsg(m)
	case *pgproto3.Flush:
		if s.parked {
			return s.flushClient()
		}
		return s.forward(m, true)
	}
	if err := s.pause(s.ctx); err != nil {
		return err
	}
	s.cl.Send(errorResponse(fatal(codeProtocolViolation, "invalid frontend message type %T", msg)))
	_ = s.flushClient()
	return fmt.Errorf("unexpected client message %T", msg)
}

// forward sends a message to PostgreSQL, restarting the relay first.
// Extended-protocol messages are buffered until a Sync or Flush (or 64 of
// them) as PostgreSQL answers them only then.
func (s *session) forward(msg pgproto3.FrontendMessage, flush bool) error {
	if err := s.resume(); err != nil {
		return err
	}
	s.fe.Send(msg)
	switch msg.(type) {
	case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close:
		s.dirty = true
	}
	s.unsent++
	if flush || s.unsent >= 64 {
		return s.flushBackend()
	}
	return nil
}

func (s *session) flushBackend() error {
	s.unsent = 0
	if err := s.fe.Flush(); err != nil {
		return fmt.Errorf("writing to PostgreSQL: %w", err)
	}
	return nil
}

func (s *session) flushClient() error {
	if err := s.cl.Flush(); err != nil {
		return fmt.Errorf("writing to the client: %w", err)
	}
	return nil
}

// forwardQuery forwards a message PostgreSQL answers with ReadyForQuery
// (Query, FunctionCall). In the middle of an extended-protocol batch it
// first learns whether the batch failed, in which case PostgreSQL would
// ignore the message.
func (s *session) forwardQuery(msg pgproto3.FrontendMessage) error {
	if s.dirty {
		if err := s.pause(s.ctx); err != nil {
			return err
		}
		if s.skip {
			return nil
		}
	}
	if err := s.resume(); err != nil {
		return err
	}
	s.push(syncEntry{epoch: s.epoch})
	s.epoch++
	return s.forward(msg, true)
}

// sync ends an extended-protocol batch.
func (s *session) sync() error {
	s.skip = false
	if err := s.resume(); err != nil {
		return err
	}
	s.push(syncEntry{epoch: s.epoch})
	s.epoch++
	s.dirty = false
	return s.forward(&pgproto3.Sync{}, true)
}

// fail reports an error the session raised itself for an extended-
// protocol message, where PostgreSQL would have raised it. With the relay
// running, PostgreSQL is made to fail at that point of the batch (see
// failInStream), so the batch's implicit transaction or the transaction
// block fails exactly as for an error of its own; with the relay parked
// the error is sent directly and the rest of the batch ignored.
func (s *session) fail(err error) error {
	if !s.parked {
		return s.failInStream(err)
	}
	if s.skip {
		return nil
	}
	s.skip = true
	s.srv.m.query(routeFed, true)
	if pe := asPgError(err); pe.Code != codeProtocolViolation {
		err = s.inAbortedTx(err)
	}
	return s.report(err)
}

// inAbortedTx is PostgreSQL's answer to any statement but the end of a
// failed transaction block: the statement's own error comes second.
func (s *session) inAbortedTx(err error) error {
	if s.tx == 'E' {
		return pgErr(codeInFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
	}
	return err
}

// failInStream forwards a Parse that PostgreSQL rejects naming a token of
// the session's (an unknown column); the relay sends err in place of that
// error. In a failed transaction block PostgreSQL answers 25P02 first, as
// it would for the client's statement; if an earlier message of the batch
// failed, it skips the Parse; either way the token expires with the batch.
func (s *session) failInStream(err error) error {
	s.failSeq++
	token := fmt.Sprintf("pgsurreal_error_%d", s.failSeq)
	s.subMu.Lock()
	s.subs[token] = substitute{err: asPgError(err), epoch: s.epoch}
	s.subMu.Unlock()
	return s.forward(&pgproto3.Parse{Name: "pgsurreal_error", Query: "SELECT " + token}, false)
}

// report sends err to the client (parked relay) and mirrors PostgreSQL's
// rule that an error inside a transaction block aborts it.
func (s *session) report(err error) error {
	pe := asPgError(err)
	s.cl.Send(errorResponse(pe))
	if s.pg.PgConn().IsClosed() {
		_ = s.flushClient()
		return fmt.Errorf("lost the PostgreSQL connection: %w", err)
	}
	if s.tx == 'T' {
		ctx, done := s.op()
		_, _ = s.pg.PgConn().Exec(ctx, "DO $$BEGIN RAISE EXCEPTION 'pgsurreal: a federated statement failed'; END$$").ReadAll()
		done()
		s.afterOp()
	}
	return s.flushClient()
}

// op returns the context of one request the session runs itself; a
// CancelRequest cancels it.
func (s *session) op() (context.Context, func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	s.opMu.Lock()
	s.opCancel = cancel
	s.opMu.Unlock()
	return ctx, func() {
		s.opMu.Lock()
		s.opCancel = nil
		s.opMu.Unlock()
		cancel()
	}
}

// afterOp notes what a request run through pgconn changed: the
// transaction status, and settings the client must be told about. Only
// after such a request is pgconn's status current: the relay reads
// PostgreSQL's ReadyForQuery messages past it.
func (s *session) afterOp() {
	pc := s.pg.PgConn()
	s.tx = pc.TxStatus()
	for _, k := range reportedParams {
		if v, old := pc.ParameterStatus(k), s.pgParams[k]; v != old {
			s.pgParams[k] = v
			s.cl.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
		}
	}
}

// cancel serves a CancelRequest: PostgreSQL cancels what it runs, and a
// request the session runs itself (reading SurrealDB) is cancelled too.
func (s *session) cancel(ctx context.Context) {
	s.opMu.Lock()
	if s.opCancel != nil {
		s.opCancel()
	}
	s.opMu.Unlock()
	if err := s.pg.PgConn().CancelRequest(ctx); err != nil {
		s.log.Debug("pgwire: forwarding a cancel request", "err", err)
	}
}

package pgwire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// The relay copies PostgreSQL's answers to the client as they arrive, so
// pass-through traffic (pipelines, portals, COPY, notices, LISTEN) is
// PostgreSQL's own, byte for byte. To run something itself (a federated
// statement, an error of its own) the session parks the relay: it sends
// a Sync of its own, the relay forwards everything before the matching
// ReadyForQuery, swallows that one and waits; the session then owns the
// backend connection (through pgx) and the client's output until the
// next message it forwards.

// syncEntry is one message in flight that PostgreSQL answers with
// ReadyForQuery.
type syncEntry struct {
	injected bool  // the session's own Sync: park there
	epoch    int64 // the client Sync's number, for portal lifetimes
}

// substitute is an error of the session's to send in place of the error
// PostgreSQL raises about a token (see failInStream).
type substitute struct {
	err   *pgconn.PgError
	epoch int64
}

// relay is the state shared by the session and its relay goroutine.
type relay struct {
	mu    sync.Mutex
	syncs []syncEntry // in flight, oldest first

	parkCh     chan bool     // relay -> session: parked; true if an error was relayed since the last ReadyForQuery
	resumeCh   chan struct{} // session -> relay: continue
	quit       chan struct{} // session -> relay: exit
	readerDone chan struct{}
	readerErr  error
	closing    bool // set before quit is closed or the backend closed by the session
	closingMu  sync.Mutex

	parked bool // the session's view

	subMu sync.Mutex
	subs  map[string]substitute // by token, see failInStream

	// Written by the relay while it runs, by the session while parked.
	tx        byte  // backend transaction status
	errSince  bool  // an ErrorResponse since the last ReadyForQuery
	idleEpoch int64 // portals of this client Sync and older are gone
}

func (s *session) push(e syncEntry) {
	s.mu.Lock()
	s.syncs = append(s.syncs, e)
	s.mu.Unlock()
}

func (s *session) pop() syncEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.syncs) == 0 {
		return syncEntry{epoch: -1}
	}
	e := s.syncs[0]
	s.syncs = s.syncs[1:]
	return e
}

func (s *session) inFlight() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.syncs) > 0
}

func (s *session) isClosing() bool {
	s.closingMu.Lock()
	defer s.closingMu.Unlock()
	return s.closing
}

func (s *session) startRelay() {
	s.parkCh = make(chan bool)
	s.resumeCh = make(chan struct{})
	s.quit = make(chan struct{})
	s.readerDone = make(chan struct{})
	s.idleEpoch = -1
	s.subs = map[string]substitute{}
	go s.relayLoop()
}

// relayLoop reads PostgreSQL's messages and writes them to the client,
// flushing whenever no more input is buffered.
func (s *session) relayLoop() {
	defer close(s.readerDone)
	fatalSent := false
	for {
		msg, err := s.fe.Receive()
		if err != nil {
			s.readerErr = err
			if !s.isClosing() && !fatalSent {
				s.cl.Send(errorResponse(fatal(codeConnectionFailure, "terminating connection: lost the connection to PostgreSQL")))
				_ = s.cl.Flush()
			}
			if !s.isClosing() {
				s.conn.Close() // wakes the session's read
			}
			return
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			e := s.pop()
			s.expireSubs(e.epoch)
			s.tx = m.TxStatus
			failed := s.errSince
			s.errSince = false
			if e.injected {
				_ = s.cl.Flush()
				select {
				case s.parkCh <- failed:
				case <-s.quit:
					return
				}
				select {
				case <-s.resumeCh:
					continue
				case <-s.quit:
					return
				}
			}
			if m.TxStatus == 'I' && e.epoch >= 0 {
				s.idleEpoch = e.epoch
			}
		case *pgproto3.ErrorResponse:
			s.errSince = true
			fatalSent = m.Severity == "FATAL" || m.Severity == "PANIC"
			if sub := s.substitute(m); sub != nil {
				msg = sub
				s.srv.m.query(routeFed, true)
			} else {
				s.srv.m.query(routePass, true)
			}
		case *pgproto3.CommandComplete, *pgproto3.EmptyQueryResponse:
			s.srv.m.query(routePass, false)
		}
		s.cl.Send(msg)
		if s.fe.ReadBufferLen() == 0 {
			_ = s.cl.Flush() // a gone client shows in the session's read
		}
	}
}

// substitute returns the session's error for PostgreSQL's m, if m is
// the error failInStream provoked.
func (s *session) substitute(m *pgproto3.ErrorResponse) *pgproto3.ErrorResponse {
	if m.Code != "42703" {
		return nil
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for token, sub := range s.subs {
		if strings.Contains(m.Message, `"`+token+`"`) {
			delete(s.subs, token)
			return errorResponse(sub.err)
		}
	}
	return nil
}

// expireSubs forgets the substitutes of batches PostgreSQL has finished.
func (s *session) expireSubs(epoch int64) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for token, sub := range s.subs {
		if sub.epoch <= epoch {
			delete(s.subs, token)
		}
	}
}

// errBackendLost ends a session whose relay stopped.
var errBackendLost = errors.New("lost the connection to PostgreSQL")

// pause parks the relay (see above); the session then owns the backend
// connection and the client's output. If an extended-protocol message
// failed in PostgreSQL since the last Sync, the session starts ignoring
// messages up to the client's Sync, as PostgreSQL does.
func (s *session) pause(ctx context.Context) error {
	if s.parked {
		return nil
	}
	select {
	case <-s.readerDone:
		return fmt.Errorf("%w: %v", errBackendLost, s.readerErr)
	default:
	}
	s.push(syncEntry{injected: true, epoch: s.epoch})
	s.fe.Send(&pgproto3.Sync{})
	if err := s.flushBackend(); err != nil {
		return err
	}
	select {
	case failed := <-s.parkCh:
		s.parked, s.dirty = true, false
		if failed {
			s.skip = true
		}
		s.dropStale(ctx)
		return nil
	case <-s.readerDone:
		return fmt.Errorf("%w: %v", errBackendLost, s.readerErr)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resume restarts a parked relay.
func (s *session) resume() error {
	if !s.parked {
		return nil
	}
	s.parked = false
	select {
	case s.resumeCh <- struct{}{}:
		return nil
	case <-s.readerDone:
		return fmt.Errorf("%w: %v", errBackendLost, s.readerErr)
	}
}

// dropStale deallocates backend statements of federated statements the
// client replaced.
func (s *session) dropStale(ctx context.Context) {
	if len(s.stale) == 0 {
		return
	}
	for _, name := range s.stale {
		_ = s.pg.PgConn().Deallocate(ctx, name)
	}
	s.stale = s.stale[:0]
	s.afterOp()
}

// close ends the session's backend connection: a query still running for
// a client that left is cancelled, the relay parked, and the connection
// terminated cleanly; when that takes too long it is cut.
func (s *session) close() {
	s.closingMu.Lock()
	s.closing = true
	s.closingMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !s.parked {
		if s.inFlight() || s.dirty {
			_ = s.pg.PgConn().CancelRequest(ctx)
		}
		_ = s.pause(ctx)
	}
	if !s.parked {
		_ = s.pg.PgConn().Conn().Close()
	}
	close(s.quit)
	<-s.readerDone
	_ = s.pg.Close(ctx)
}

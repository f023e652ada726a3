package pgwire

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// startupTimeout bounds the time from accept to an authenticated
// session, as PostgreSQL's authentication_timeout does.
const startupTimeout = time.Minute

// serveConn runs one client connection from its first byte to its end.
func (s *Server) serveConn(ctx context.Context, raw net.Conn) {
	s.m.conns.Inc()
	defer s.m.conns.Dec()
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	log := s.log.With("remote", raw.RemoteAddr().String())
	_ = raw.SetDeadline(time.Now().Add(startupTimeout))
	conn, cl, startup, err := s.negotiate(raw)
	if err != nil {
		log.Debug("pgwire: connection ended before startup", "err", err)
		return
	}
	if startup == nil {
		return // a cancel request
	}
	sess, err := s.startSession(ctx, conn, cl, startup, log)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == codeInvalidPassword || pe.Code == codeInvalidAuthSpec) {
			log.Info("pgwire: authentication failed", "user", startup.Parameters["user"])
		} else {
			log.Debug("pgwire: session refused", "err", err)
		}
		return
	}
	_ = raw.SetDeadline(time.Time{})
	log.Debug("pgwire: session opened", "pid", sess.pid)
	err = sess.run()
	log.Debug("pgwire: session closed", "pid", sess.pid, "err", err)
}

// negotiate reads the startup packets: SSLRequest (answered 'S' and TLS
// when configured, else 'N'), GSSENCRequest ('N'), CancelRequest (handled,
// no startup message returned) and finally the StartupMessage.
func (s *Server) negotiate(conn net.Conn) (net.Conn, *pgproto3.Backend, *pgproto3.StartupMessage, error) {
	cl := pgproto3.NewBackend(conn, conn)
	secured := false
	for {
		msg, err := cl.ReceiveStartupMessage()
		if err != nil {
			return nil, nil, nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.tls == nil || secured {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return nil, nil, nil, err
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return nil, nil, nil, err
			}
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return nil, nil, nil, fmt.Errorf("TLS handshake: %w", err)
			}
			conn, cl, secured = tc, pgproto3.NewBackend(tc, tc), true
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return nil, nil, nil, err
			}
		case *pgproto3.CancelRequest:
			s.cancel(m.ProcessID, m.SecretKey)
			return conn, cl, nil, nil
		case *pgproto3.StartupMessage:
			params := make(map[string]string, len(m.Parameters))
			for k, v := range m.Parameters {
				params[k] = v
			}
			return conn, cl, &pgproto3.StartupMessage{ProtocolVersion: m.ProtocolVersion, Parameters: params}, nil
		default:
			return nil, nil, nil, fmt.Errorf("unexpected startup message %T", msg)
		}
	}
}

// startSession checks the user, authenticates, opens the session's
// PostgreSQL connection and tells the client the session is ready. The
// database the client names is ignored: every session uses the database
// of Options.Postgres.
func (s *Server) startSession(ctx context.Context, conn net.Conn, cl *pgproto3.Backend, sm *pgproto3.StartupMessage, log *slog.Logger) (*session, error) {
	refuse := func(e error) error {
		cl.Send(errorResponse(asPgError(e)))
		_ = cl.Flush()
		return e
	}
	var unknown []string
	for k := range sm.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unknown = append(unknown, k)
		}
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknown) > 0 {
		slices.Sort(unknown)
		cl.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	user := sm.Parameters["user"]
	if _, ok := sm.Parameters["replication"]; ok {
		return nil, refuse(fatal("0A000", "replication connections are not supported by pgsurreal"))
	}
	if user != s.o.User {
		// As PostgreSQL does: go through the password exchange anyway and
		// fail it the same way, so nobody learns which user names exist.
		if err := s.authenticate(cl, user); err != nil && !isAuthFailure(err) {
			return nil, refuse(err)
		}
		return nil, refuse(fatal(codeInvalidPassword, "password authentication failed for user %s", quoteIdent(user)))
	}
	if err := s.authenticate(cl, user); err != nil {
		return nil, refuse(err)
	}
	cl.Send(&pgproto3.AuthenticationOk{})
	sess := newSession(ctx, s, conn, cl, log)
	if err := sess.connect(ctx, sm.Parameters); err != nil {
		log.Warn("pgwire: cannot open the session's PostgreSQL connection", "err", err)
		return nil, refuse(err)
	}
	if err := s.register(sess); err != nil {
		sess.closeBackend()
		return nil, refuse(err)
	}
	sess.greet()
	if err := cl.Flush(); err != nil {
		s.unregister(sess)
		sess.closeBackend()
		return nil, err
	}
	return sess, nil
}

// isAuthFailure reports a refused password (as opposed to a broken
// exchange).
func isAuthFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeInvalidPassword
}

// quoteIdent quotes a user name the way PostgreSQL's messages do.
func quoteIdent(s string) string { return `"` + s + `"` }

// authenticate runs the configured password exchange for user.
func (s *Server) authenticate(cl *pgproto3.Backend, user string) error {
	failed := fatal(codeInvalidPassword, "password authentication failed for user %s", quoteIdent(user))
	if s.o.Auth == AuthCleartext {
		cl.Send(&pgproto3.AuthenticationCleartextPassword{})
		if err := cl.Flush(); err != nil {
			return err
		}
		if err := cl.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
			return err
		}
		msg, err := cl.Receive()
		if err != nil {
			return err
		}
		pm, ok := msg.(*pgproto3.PasswordMessage)
		if !ok {
			return fatal(codeProtocolViolation, "expected password response, got message type %T", msg)
		}
		got, want := sha256.Sum256([]byte(pm.Password)), sha256.Sum256([]byte(s.o.Password.Reveal()))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return failed
		}
		return nil
	}
	err := s.scramAuth(cl)
	if errors.Is(err, errScramProof) {
		return failed
	}
	if errors.Is(err, errScramMalformed) {
		return fatal(codeProtocolViolation, "%s", err.Error())
	}
	return err
}

// scramAuth runs SCRAM-SHA-256 up to AuthenticationSASLFinal.
func (s *Server) scramAuth(cl *pgproto3.Backend) error {
	cl.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	if err := cl.Flush(); err != nil {
		return err
	}
	if err := cl.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := cl.Receive()
	if err != nil {
		return err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return fatal(codeProtocolViolation, "expected SASL response, got message type %T", msg)
	}
	if init.AuthMechanism != scramMechanism {
		return fatal(codeProtocolViolation, "client selected an invalid SASL authentication mechanism")
	}
	nonce, err := newServerNonce()
	if err != nil {
		return err
	}
	x, serverFirst, err := s.scram.first(init.Data, nonce)
	if err != nil {
		return err
	}
	cl.Send(&pgproto3.AuthenticationSASLContinue{Data: serverFirst})
	if err := cl.Flush(); err != nil {
		return err
	}
	if err := cl.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = cl.Receive()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return fatal(codeProtocolViolation, "expected SASL response, got message type %T", msg)
	}
	serverFinal, err := x.final(resp.Data)
	if err != nil {
		return err
	}
	cl.Send(&pgproto3.AuthenticationSASLFinal{Data: serverFinal})
	return nil
}

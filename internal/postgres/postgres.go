// Package postgres holds pgsurreal's PostgreSQL adapter: connection pools
// built from config, error classification that names the fix, and the one
// function every identifier goes through.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Ident quotes a PostgreSQL identifier (table, column, schema, role,
// database). It is the only way pgsurreal puts a name into SQL.
func Ident(name string) string {
	return pgx.Identifier{name}.Sanitize()
}

// QualifiedIdent quotes schema.name.
func QualifiedIdent(schema, name string) string {
	return pgx.Identifier{schema, name}.Sanitize()
}

// Connect opens a pool sized by cfg.MaxConns and checks it with a ping, so
// a wrong password or an unreachable server fails here with a clear error.
func Connect(ctx context.Context, cfg config.Postgres) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", Explain(cfg, err))
	}
	pc.MaxConns = int32(cfg.MaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", Explain(cfg, err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, &ConnectError{Cfg: cfg, Err: err}
	}
	return pool, nil
}

// ConnectOne opens a single connection (for replication or admin work).
func ConnectOne(ctx context.Context, cfg config.Postgres, extra map[string]string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", Explain(cfg, err))
	}
	for k, v := range extra {
		cc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, &ConnectError{Cfg: cfg, Err: err}
	}
	return conn, nil
}

// ConnectError is a failure to open a connection, explained for the user.
type ConnectError struct {
	Cfg config.Postgres
	Err error
}

func (e *ConnectError) Error() string { return Explain(e.Cfg, e.Err) }
func (e *ConnectError) Unwrap() error { return e.Err }

// Explain turns a connection error into one sentence naming the server,
// the problem and the fix. It never includes the password.
func Explain(cfg config.Postgres, err error) string {
	where := fmt.Sprintf("PostgreSQL at %s:%d (database %q, user %q)", cfg.Host, cfg.Port, cfg.Database, cfg.User)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fmt.Sprintf("%s rejected the password: set postgres.password (or PGSURREAL_POSTGRES_PASSWORD) to the password of role %q", where, cfg.User)
		case "28000":
			return fmt.Sprintf("%s refused the connection: %s; add a pg_hba.conf line for this host and user, then reload PostgreSQL", where, pgErr.Message)
		case "3D000":
			return fmt.Sprintf("%s: the database does not exist: create it (CREATE DATABASE %s) or set postgres.database", where, Ident(cfg.Database))
		case "53300":
			return fmt.Sprintf("%s has no free connection slots: raise max_connections or lower postgres.max_conns", where)
		}
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", where, pgErr.Message, pgErr.Code)
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach %s: connection refused; start the server (`pgsurreal dev up` for the dev cluster) or fix postgres.host/postgres.port", where)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("cannot reach %s: timed out after %s; check the address and firewall, or raise postgres.connect_timeout", where, cfg.ConnectTimeout)
	case isDNS(err):
		return fmt.Sprintf("cannot reach %s: host name %q does not resolve; fix postgres.host", where, cfg.Host)
	case strings.Contains(err.Error(), "server refused TLS connection"):
		return fmt.Sprintf("%s does not accept TLS: set postgres.sslmode to prefer or disable, or enable ssl on the server", where)
	case strings.Contains(err.Error(), "x509") || strings.Contains(err.Error(), "tls:"):
		return fmt.Sprintf("TLS to %s failed: %s; check postgres.sslrootcert and postgres.sslmode", where, lastLine(err))
	}
	return fmt.Sprintf("%s: %s", where, lastLine(err))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de)
}

// lastLine keeps pgconn's innermost message: its wrapping repeats the
// address and user already named by Explain.
func lastLine(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

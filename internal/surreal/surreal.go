// Package surreal holds pgsurreal's SurrealDB adapter: connecting with the
// official Go SDK (surrealdb.go) over WebSocket, error explanations that
// name the fix, and the one function every identifier goes through.
package surreal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	"github.com/surrealdb/surrealdb.go/pkg/connection/gorillaws"
	"github.com/surrealdb/surrealdb.go/pkg/logger"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Ident escapes a SurrealQL identifier (table, field, namespace, database,
// user). It always quotes with backticks, so reserved words, digits-only
// names, spaces, quotes and unicode are all safe; it is the only way
// pgsurreal puts a name into SurrealQL.
func Ident(name string) string {
	return "`" + identEscaper.Replace(name) + "`"
}

var identEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`")

// Client is a signed-in connection using the configured namespace and
// database.
type Client struct {
	DB  *surrealdb.DB
	cfg config.Surreal
	// st's dead channel is closed when the connection's read side fails
	// or the client is closed (nil for HTTP connections).
	st   *connState
	dead chan struct{}
}

// Dead is closed once the connection is known to be gone.
func (c *Client) Dead() <-chan struct{} { return c.dead }

// Close closes the connection; the client counts as dead from then on.
func (c *Client) Close(ctx context.Context) error {
	c.st.died()
	return c.DB.Close(ctx)
}

// Connect opens a WebSocket (or HTTP) connection, signs in and selects
// cfg.Namespace and cfg.Database. Errors are explained with the fix.
func Connect(ctx context.Context, cfg config.Surreal, log *slog.Logger) (*Client, error) {
	st := newConnState()
	db, err := Dial(context.WithValue(ctx, connStateKey{}, st), cfg, log)
	if err != nil {
		return nil, err
	}
	if _, err := db.SignIn(ctx, surrealdb.Auth{Username: cfg.Username, Password: cfg.Password.Reveal()}); err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		if strings.Contains(strings.ToLower(err.Error()), "authentication") {
			return nil, &AuthError{fmt.Errorf("SurrealDB at %s rejected the credentials of user %q: set surreal.username and surreal.password (or PGSURREAL_SURREAL_PASSWORD): %s", Redact(cfg.URL), cfg.Username, err)}
		}
		return nil, fmt.Errorf("signing in to SurrealDB at %s: %s", Redact(cfg.URL), Explain(cfg, err))
	}
	if err := db.Use(ctx, cfg.Namespace, cfg.Database); err != nil {
		_ = db.Close(ctx)
		return nil, fmt.Errorf("SurrealDB at %s: cannot use namespace %q database %q: %w", Redact(cfg.URL), cfg.Namespace, cfg.Database, err)
	}
	return &Client{DB: db, cfg: cfg, st: st, dead: st.dead}, nil
}

// AuthError is a sign-in SurrealDB refused: retrying cannot fix it.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// Dial opens a connection without signing in.
func Dial(ctx context.Context, cfg config.Surreal, log *slog.Logger) (*surrealdb.DB, error) {
	u, err := url.ParseRequestURI(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("surreal.url %q is not a URL such as ws://127.0.0.1:8000/rpc", Redact(cfg.URL))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conf := connection.NewConfig(u)
	var conn connection.Connection
	switch u.Scheme {
	case "ws", "wss":
		fixReadErrors()
		if err := useCAFile(cfg.CAFile); err != nil {
			return nil, err
		}
		conn = gorillaws.New(conf).Logger(logger.New(log.Handler())).SetTimeOut(cfg.Timeout.Duration)
	default:
		db, err := surrealdb.FromEndpointURLString(ctx, cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("%s", Explain(cfg, err))
		}
		return db, nil
	}
	db, err := surrealdb.FromConnection(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("%s", Explain(cfg, err))
	}
	return db, nil
}

var caMu sync.Mutex

// useCAFile trusts the configured CA for wss://. The SDK's WebSocket
// dialer is a package-level value, so the CA applies process-wide; a
// process talks to one SurrealDB deployment.
func useCAFile(path string) error {
	if path == "" {
		return nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("surreal.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("surreal.ca_file %s holds no PEM certificate", path)
	}
	caMu.Lock()
	defer caMu.Unlock()
	gorillaws.DefaultDialer.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return nil
}

// Explain turns a connection error into a sentence naming the server and
// the fix. It never includes the password.
func Explain(cfg config.Surreal, err error) string {
	where := "SurrealDB at " + Redact(cfg.URL)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach %s: connection refused; start it (`pgsurreal dev up` for the dev server) or fix surreal.url", where)
	case isDNS(err):
		return fmt.Sprintf("cannot reach %s: the host name does not resolve; fix surreal.url", where)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("cannot reach %s: timed out; check the address or raise surreal.timeout", where)
	case strings.Contains(err.Error(), "x509") || strings.Contains(err.Error(), "tls:"):
		return fmt.Sprintf("TLS to %s failed: %s; check surreal.ca_file", where, err)
	case strings.Contains(err.Error(), "bad handshake"):
		return fmt.Sprintf("%s did not accept a WebSocket RPC connection (is it a SurrealDB server, and is the path /rpc?): %s", where, err)
	}
	return fmt.Sprintf("%s: %s", where, err)
}

func isDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de)
}

// Redact hides a password embedded in a URL.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

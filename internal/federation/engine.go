package federation

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Consistency modes.
const (
	Eventual       = "eventual"
	ReadYourWrites = "read_your_writes"
)

// Options are what an Engine is built from.
type Options struct {
	// PG runs the rewritten statements (HTTP and CLI queries; the wire
	// server brings each session's own connection).
	PG *pgxpool.Pool
	// Surreal reads SurrealDB.
	Surreal *surreal.Pool
	// Config is the federation section.
	Config config.Federation
	// Slot is the forward sync's replication slot, whose stored position
	// read_your_writes waits on.
	Slot string
	Log  *slog.Logger
	// Registerer receives the engine's metrics; nil means none.
	Registerer prometheus.Registerer
}

// QueryOptions are per-request choices.
type QueryOptions struct {
	// Consistency is Eventual or ReadYourWrites; "" means the session's
	// setting (pgsurreal.consistency), else the configured default.
	Consistency string
	// NoCache skips the cache for this request.
	NoCache bool
}

// Column is one result column.
type Column struct {
	Name string `json:"name"`
	// Type is the PostgreSQL type name, e.g. "int8", "text", "numeric".
	Type string `json:"type"`
	// OID is the type's OID.
	OID uint32 `json:"oid"`
}

// Result is a whole query result.
type Result struct {
	Columns []Column
	// Rows hold the values as pgx decodes them (rows.Values()).
	Rows [][]any
	// Tag is the command tag, e.g. "SELECT 3".
	Tag string
	// Explain is EXPLAIN FEDERATED's text, one line per entry; set
	// (and Rows empty) when the statement was an EXPLAIN FEDERATED.
	Explain []string
}

// Querier is a PostgreSQL connection the engine runs statements on: a
// *pgx.Conn, *pgxpool.Pool or pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

var _ Querier = (*pgxpool.Pool)(nil)
var _ Querier = (*pgx.Conn)(nil)

// timeNow is replaced by nothing; it keeps step timings in one place.
var timeNow = time.Now

// Engine plans and runs federated statements. It is safe for concurrent
// use.
type Engine struct {
	o Options
}

// New builds an engine.
func New(ctx context.Context, o Options) (*Engine, error) {
	return &Engine{o: o}, nil
}

// Statement is a planned federated statement, reusable with different
// parameter values (a prepared statement).
type Statement struct {
	e       *Engine
	sql     string // the rewritten statement
	explain bool
}

// Prepare plans sql. It returns nil and no error when sql reads no
// SurrealDB table: such a statement is passed to PostgreSQL unchanged.
// Errors a client should see carry a SQLSTATE (*pgconn.PgError): 42601
// syntax error (with Position), 42P01 unknown table, 42703 unknown
// column, 0A000 not supported.
func (e *Engine) Prepare(ctx context.Context, sql string) (*Statement, error) {
	tree, explain, _, err := parse(sql)
	if err != nil {
		return nil, err
	}
	if !explain && !touchesSurreal(tree) {
		return nil, nil
	}
	return e.plan(ctx, tree, explain)
}

// SQL is the statement PostgreSQL runs instead of the client's: its
// parameters are the client's $1..$n followed by the values Inputs
// returns. It is "" for EXPLAIN FEDERATED.
func (s *Statement) SQL() string { return s.sql }

// IsExplain reports whether the statement is EXPLAIN FEDERATED.
func (s *Statement) IsExplain() bool { return s.explain }

// Inputs reads SurrealDB for the client's parameter values (decoded Go
// values, nil for NULL) and returns the values of the added parameters.
// q is the PostgreSQL connection the statement will run on (the
// session's setting pgsurreal.consistency is read from it).
func (s *Statement) Inputs(ctx context.Context, q Querier, params []any, o QueryOptions) ([]any, error) {
	panic("federation: Inputs not built yet")
}

// Explain runs the statement with params and returns EXPLAIN FEDERATED's
// lines: each SurrealQL statement sent with its parameters, the rewritten
// PostgreSQL statement, and rows and time per step.
func (s *Statement) Explain(ctx context.Context, q Querier, params []any, o QueryOptions) ([]string, error) {
	panic("federation: Explain not built yet")
}

// Query runs one statement (federated or not) on q, or on the engine's
// pool when q is nil, and returns its whole result.
func (e *Engine) Query(ctx context.Context, q Querier, sql string, args []any, o QueryOptions) (*Result, error) {
	panic("federation: Query not built yet")
}

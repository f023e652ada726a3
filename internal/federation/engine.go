package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	// Surreal reads SurrealDB: the default server (the surreal section).
	Surreal *surreal.Pool
	// Servers is the surreal section, whose servers (surreal.servers)
	// the engine opens a pool to when it first reads a table placed on
	// one. The zero value knows the default server alone.
	Servers config.Surreal
	// Sync places SurrealDB tables on servers: sync.tables[].server
	// routes a table whole, sync.tables[].partition spreads one over
	// several. The zero value leaves every table on the default server.
	Sync config.Sync
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
	o       Options
	srv     *servers
	cat     *catalog
	metrics *metrics
	cache   *cache
	plans   planCache
}

// New builds an engine. With federation.cache.redis set it connects to
// Redis (and fails clearly if it cannot).
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Config.BindJoinCap <= 0 {
		o.Config.BindJoinCap = config.Default().Federation.BindJoinCap
	}
	if o.Config.WaitTimeout.Duration <= 0 {
		o.Config.WaitTimeout = config.Default().Federation.WaitTimeout
	}
	if o.Config.Consistency == "" {
		o.Config.Consistency = Eventual
	}
	srv := newServers(o.Surreal, o.Servers, o.Sync, o.Log)
	e := &Engine{o: o, srv: srv, cat: newCatalog(srv, o.Config), metrics: newMetrics(o.Registerer)}
	if o.Config.Cache.Redis != "" {
		c, err := newCache(ctx, o.Config.Cache, e.metrics)
		if err != nil {
			return nil, err
		}
		e.cache = c
	}
	return e, nil
}

// Close releases the cache connection and the pools of the servers
// other than the default (whose pool, Options.Surreal, is the caller's).
func (e *Engine) Close() error {
	err := e.srv.close(context.Background())
	if e.cache != nil {
		err = errors.Join(err, e.cache.close())
	}
	return err
}

// Statement is a planned federated statement, reusable with different
// parameter values (a prepared statement).
type Statement struct {
	e       *Engine
	sql     string // the rewritten statement
	explain bool
	nparams int // the client's parameters ($1..$nparams)
	scans   []*scan
	funcs   []*passthrough
	aggs    []*aggScan
	// vanished are client parameters only surreal.query() uses.
	vanished map[int]bool
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
// returns. For EXPLAIN FEDERATED it is the statement explained.
func (s *Statement) SQL() string { return s.sql }

// NumParams is the number of the client's parameters ($1..$n) the
// statement uses; SQL's added parameters follow them.
func (s *Statement) NumParams() int { return s.nparams }

// args are the rewritten statement's arguments.
func (s *Statement) args(params, inputs []any) []any {
	out := slices.Clone(params[:min(len(params), s.nparams)])
	for k := range s.vanished {
		if k <= len(out) {
			out[k-1] = nil // only SurrealDB uses it (keepParams)
		}
	}
	return append(out, inputs...)
}

// IsExplain reports whether the statement is EXPLAIN FEDERATED.
func (s *Statement) IsExplain() bool { return s.explain }

// Inputs reads SurrealDB for the client's parameter values (decoded Go
// values, nil for NULL) and returns the values of the added parameters.
// q is the PostgreSQL connection the statement will run on (the
// session's setting pgsurreal.consistency is read from it).
func (s *Statement) Inputs(ctx context.Context, q Querier, params []any, o QueryOptions) ([]any, error) {
	began := timeNow()
	in, steps, err := s.inputs(ctx, q, params, o)
	s.e.slowQuery(began, s.sql, steps, err)
	return in, err
}

// slowQuery logs a federated query (or its SurrealDB part, for the wire
// server, which runs the rest) slower than federation.slow_query.
func (e *Engine) slowQuery(began time.Time, sql string, steps []step, err error) {
	took := timeNow().Sub(began)
	limit := e.o.Config.SlowQuery.Duration
	if err != nil || limit <= 0 || took < limit {
		return
	}
	e.metrics.slow.Inc()
	attrs := []any{"took", took.Round(time.Microsecond).String(), "sql", sql}
	for i, st := range steps {
		attrs = append(attrs, fmt.Sprintf("step%d", i+1), fmt.Sprintf("%s: %d rows in %s", st.kind, st.rows, ms(st.took)))
	}
	e.o.Log.Warn("slow federated query", attrs...)
}

// Explain runs the statement with params and returns EXPLAIN FEDERATED's
// lines: each SurrealQL statement sent with its parameters, the rewritten
// PostgreSQL statement, and rows and time per step.
func (s *Statement) Explain(ctx context.Context, q Querier, params []any, o QueryOptions) ([]string, error) {
	began := timeNow()
	in, steps, err := s.inputs(ctx, q, params, o)
	if err != nil {
		return nil, err
	}
	t := timeNow()
	rows, err := q.Query(ctx, s.sql, s.args(params, in)...)
	if err != nil {
		return nil, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	steps = append(steps, step{kind: "PostgreSQL", what: s.sql, rows: n, took: timeNow().Sub(t)})
	return explainLines(steps, timeNow().Sub(began)), nil
}

// Query runs one statement (federated or not) on q, or on the engine's
// pool when q is nil, and returns its whole result.
func (e *Engine) Query(ctx context.Context, q Querier, sql string, args []any, o QueryOptions) (*Result, error) {
	if q == nil {
		q = e.o.PG
	}
	began := timeNow()
	st, err := e.plans.get(sql)
	if st == nil && err == nil {
		st, err = e.Prepare(ctx, sql)
		if err == nil {
			e.plans.put(sql, st)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeUndefinedTab && o.Consistency == ReadYourWrites {
		// A table the sync has not created yet (a snapshot in progress)
		// may exist once it has applied PostgreSQL's position.
		if _, werr := e.waitForSync(ctx, nil); werr == nil {
			e.cat.forget(strings.TrimPrefix(strings.SplitN(pe.Message, "\"", 3)[1], SurrealSchema+"."))
			st, err = e.Prepare(ctx, sql)
		}
	}
	if err != nil {
		e.metrics.observe("federated", began, err)
		return nil, err
	}
	if st == nil {
		res, err := collect(ctx, q, sql, args)
		e.metrics.observe("passthrough", began, err)
		return res, err
	}
	if st.explain {
		lines, err := st.Explain(ctx, q, args, o)
		e.metrics.observe("federated", began, err)
		if err != nil {
			return nil, err
		}
		return explainResult(lines), nil
	}
	in, steps, err := st.inputs(ctx, q, args, o)
	if err != nil {
		e.metrics.observe("federated", began, err)
		return nil, err
	}
	t := timeNow()
	res, err := collect(ctx, q, st.sql, st.args(args, in))
	if res != nil {
		steps = append(steps, step{kind: "PostgreSQL", rows: len(res.Rows), took: timeNow().Sub(t)})
	}
	e.metrics.observe("federated", began, err)
	e.slowQuery(began, sql, steps, err)
	return res, err
}

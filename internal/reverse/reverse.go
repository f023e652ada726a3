package reverse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// Options configure the reverse pipeline.
type Options struct {
	Postgres config.Postgres
	Surreal  config.Surreal
	Reverse  config.Reverse
	Log      *slog.Logger
	Metrics  *Metrics
	// Lease and Epoch are the HA leader lease (the sync slot) and this
	// process's term's epoch (fencing token); with Epoch set, each
	// applied batch checks it (leader.CheckEpoch) and a deposed leader's
	// batch fails. 0: no HA, no check.
	Lease string
	Epoch int64
	// Resync copies every table again and streams from then on: the
	// remedy after the changefeeds' retention was exceeded.
	Resync bool
	// Changed, when set, is called after each applied batch with the
	// SurrealDB tables whose changes it read (the federation cache
	// invalidates with it). Keep it short.
	Changed func(ctx context.Context, tables []string)
}

// PermanentError is a failure no retry can fix: the pipeline stops.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// table is one replicated SurrealDB table.
type table struct {
	cfg    config.ReverseTable
	shape  *mapping.ReverseShape
	target string // quoted PostgreSQL name
	// start is the versionstamp the table's copy covers: its changes at
	// or below it are in the copy already. Zero before the copy.
	start       uint64
	upsert, del string
	// fields are a schemafull table's top-level fields when its shape was
	// decided; nil for a schemaless table (new fields go into doc).
	fields map[string]bool
}

// Pipeline is one run of the reverse direction.
type Pipeline struct {
	o       Options
	log     *slog.Logger
	conn    *pgx.Conn // applies, under the replication origin
	cl      *surreal.Client
	tables  map[string]*table
	names   []string
	source  string // the SurrealDB namespace/database, the position's key
	pos     uint64 // versionstamp applied up to
	checked time.Time
	// reloadedAt is the versionstamp of the last definition change the
	// shapes were reloaded for.
	reloadedAt uint64
	// schema-qualified names of pgsurreal's own tables
	posTable, tablesTable string
	tw                    twoWayTables
	// originID is the replication origin's id (roident).
	originID uint32
	// native is a connection outside the origin, for repairs of two-way
	// conflicts; nil without two-way tables.
	native *pgx.Conn
}

// Run replicates until ctx ends, reconnecting after connection errors.
// It returns nil when ctx ends and an error when it must stop.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if len(o.Reverse.Tables) == 0 {
		return &PermanentError{errors.New("reverse.tables is empty: list the SurrealDB tables to replicate into PostgreSQL")}
	}
	defer o.Metrics.Running.Set(0)
	backoff := 200 * time.Millisecond
	for {
		started := time.Now()
		err := runOnce(ctx, &o)
		o.Metrics.Running.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		if !retryable(err) {
			o.Metrics.Errors.WithLabelValues("fatal").Inc()
			return err
		}
		o.Metrics.Errors.WithLabelValues("retryable").Inc()
		if time.Since(started) > time.Minute {
			backoff = 200 * time.Millisecond
		}
		o.Log.Warn("reverse replication interrupted; retrying", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func retryable(err error) bool {
	var perm *PermanentError
	var auth *surreal.AuthError
	var ce *postgres.ConnectError
	switch {
	case err == nil:
		return false
	case errors.As(err, &perm), errors.As(err, &auth):
		return false
	case errors.As(err, &ce):
		var pe *pgconn.PgError
		return !(errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000" || pe.Code == "3D000"))
	}
	return true
}

func runOnce(ctx context.Context, o *Options) error {
	conn, err := postgres.ConnectOne(ctx, o.Postgres, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cl, err := surreal.Connect(ctx, o.Surreal, o.Log)
	if err != nil {
		return err
	}
	defer cl.Close(context.WithoutCancel(ctx))
	p := &Pipeline{o: *o, log: o.Log, conn: conn, cl: cl, tables: map[string]*table{},
		source:      o.Surreal.Namespace + "/" + o.Surreal.Database,
		posTable:    postgres.QualifiedIdent(o.Reverse.Schema, "reverse_position"),
		tablesTable: postgres.QualifiedIdent(o.Reverse.Schema, "reverse_tables"),
		tw:          newTwoWayTables(o.Reverse.Schema)}
	for _, t := range o.Reverse.Tables {
		if t.TwoWay && p.native == nil {
			if p.native, err = postgres.ConnectOne(ctx, o.Postgres, nil); err != nil {
				return err
			}
			defer p.native.Close(context.WithoutCancel(ctx))
		}
	}
	if err := p.setup(ctx); err != nil {
		return err
	}
	o.Metrics.Running.Set(1) // both databases reached: copying or resuming
	if err := p.prepare(ctx); err != nil {
		return err
	}
	o.Resync = false // done: a retry after this resumes instead
	return p.stream(ctx)
}

// setup creates pgsurreal's tables and the replication origin, and puts
// the apply session under that origin.
func (p *Pipeline) setup(ctx context.Context) error {
	stmts := []string{
		"CREATE SCHEMA IF NOT EXISTS " + postgres.Ident(p.o.Reverse.Schema),
		"CREATE TABLE IF NOT EXISTS " + p.posTable + ` (
  source       text PRIMARY KEY,
  versionstamp numeric(20) NOT NULL,
  checked_at   timestamptz NOT NULL)`,
		"CREATE TABLE IF NOT EXISTS " + p.tablesTable + ` (
  source        text NOT NULL,
  surreal_table text NOT NULL,
  target        text NOT NULL,
  start         numeric(20) NOT NULL,
  copied_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, surreal_table))`,
	}
	stmts = append(stmts, p.tw.create()...)
	for _, s := range stmts {
		if _, err := p.conn.Exec(ctx, s); err != nil {
			return pgErr(err, "creating pgsurreal's tables in schema "+p.o.Reverse.Schema)
		}
	}
	origin := p.o.Reverse.OriginFor(p.o.Postgres.Database)
	if _, err := p.conn.Exec(ctx, `SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)`, origin); err != nil {
		return pgErr(err, "creating the replication origin "+origin)
	}
	if _, err := p.conn.Exec(ctx, `SELECT pg_replication_origin_session_setup($1)`, origin); err != nil {
		return pgErr(err, "writing under the replication origin "+origin)
	}
	if err := p.conn.QueryRow(ctx, `SELECT roident FROM pg_replication_origin WHERE roname = $1`, origin).Scan(&p.originID); err != nil {
		return err
	}
	return nil
}

// pgErr explains a PostgreSQL error of a setup step; privilege problems
// are permanent and say what to grant.
func pgErr(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42501" || strings.HasPrefix(pe.Code, "42")) {
		return &PermanentError{fmt.Errorf("%s: %s (the reverse direction needs CREATE on the database and the replication origin functions: connect as a superuser, or GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_session_setup(text) TO the postgres.user role)", what, pe.Message)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// prepare loads the tables' shapes, checks the stored position against
// the retention, and copies the tables not copied yet.
func (p *Pipeline) prepare(ctx context.Context) error {
	for _, tc := range p.o.Reverse.Tables {
		if err := source.Enable(ctx, p.cl, tc.Name, p.o.Reverse.Retention.Duration); err != nil {
			return err
		}
		t, err := p.loadTable(ctx, tc)
		if err != nil {
			return err
		}
		p.tables[tc.Name] = t
		p.names = append(p.names, tc.Name)
	}
	// sync's position table (read to recognise echoes) needs a feed too.
	if err := source.Enable(ctx, p.cl, sink.PositionTable, p.o.Reverse.Retention.Duration); err != nil {
		return err
	}
	var vsText string
	err := p.conn.QueryRow(ctx, "SELECT versionstamp::text, checked_at FROM "+p.posTable+" WHERE source = $1", p.source).Scan(&vsText, &p.checked)
	havePos := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if havePos {
		if p.pos, err = strconv.ParseUint(vsText, 10, 64); err != nil {
			return fmt.Errorf("stored versionstamp %q: %w", vsText, err)
		}
	}
	if havePos && !p.o.Resync {
		if gap := time.Since(p.checked); gap > p.o.Reverse.Retention.Duration {
			return &PermanentError{fmt.Errorf("the SurrealDB changefeeds were last read %s ago (at %s), longer than their retention reverse.retention = %s: changes from that time may be gone, so PostgreSQL cannot be brought up to date from them; run `pgsurreal reverse --resync` to copy every table again (or raise reverse.retention before long pauses)",
				gap.Round(time.Second), p.checked.UTC().Format(time.RFC3339), p.o.Reverse.Retention.Duration)}
		}
	}
	rows, err := p.conn.Query(ctx, "SELECT surreal_table, start::text FROM "+p.tablesTable+" WHERE source = $1", p.source)
	if err != nil {
		return err
	}
	starts := map[string]uint64{}
	for rows.Next() {
		var name, start string
		if err := rows.Scan(&name, &start); err != nil {
			return err
		}
		starts[name], _ = strconv.ParseUint(start, 10, 64)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var missing []*table
	for _, name := range p.names {
		t := p.tables[name]
		if s, ok := starts[name]; ok && !p.o.Resync {
			t.start = s
			continue
		}
		missing = append(missing, t)
	}
	if len(missing) == 0 {
		p.log.Info("reverse replication resuming", "source", p.source, "versionstamp", p.pos, "tables", len(p.names))
		return nil
	}
	// Every change after now is read from the feeds; everything before it
	// is in the copies.
	now, err := source.Now(ctx, p.cl, p.o.Reverse.Retention.Duration)
	if err != nil {
		return err
	}
	for _, t := range missing {
		if err := p.copyTable(ctx, t, now); err != nil {
			return err
		}
	}
	if !havePos || p.o.Resync {
		if _, err := p.conn.Exec(ctx, "INSERT INTO "+p.posTable+` (source, versionstamp, checked_at) VALUES ($1, $2::numeric, now())
ON CONFLICT (source) DO UPDATE SET versionstamp = EXCLUDED.versionstamp, checked_at = EXCLUDED.checked_at`, p.source, strconv.FormatUint(now, 10)); err != nil {
			return err
		}
		p.pos = now
		p.checked = time.Now()
	}
	p.log.Info("reverse replication streaming", "source", p.source, "versionstamp", p.pos, "tables", len(p.names))
	return nil
}

// loadTable decides the shape of a table, creating the PostgreSQL table
// when it is missing.
func (p *Pipeline) loadTable(ctx context.Context, tc config.ReverseTable) (*table, error) {
	def, err := source.Describe(ctx, p.cl, tc.Name)
	if err != nil {
		return nil, err
	}
	st, err := mapping.ParseSurrealTable(tc.Name, def.Table, def.Fields)
	if err != nil {
		return nil, &PermanentError{err}
	}
	schema, name := target(tc)
	existing, err := postgres.DescribeTable(ctx, p.conn, schema, name)
	if err != nil {
		if !strings.Contains(err.Error(), "does not exist") {
			return nil, err
		}
		existing = nil
	}
	shape, err := mapping.ChooseReverseShape(st, tc, schema, name, existing)
	if err != nil {
		return nil, &PermanentError{err}
	}
	if existing == nil {
		if _, err := p.conn.Exec(ctx, shape.CreateSQL()); err != nil {
			return nil, pgErr(err, fmt.Sprintf("creating PostgreSQL table %s.%s for SurrealDB table %s", schema, name, tc.Name))
		}
		p.log.Info("created PostgreSQL table for SurrealDB table", "table", schema+"."+name, "surreal_table", tc.Name, "columns", strings.Join(shape.Columns(), ","))
	}
	t := &table{cfg: tc, shape: shape, target: postgres.QualifiedIdent(schema, name), upsert: shape.UpsertSQL(), del: shape.DeleteSQL()}
	if st.Schemafull {
		t.fields = map[string]bool{"id": true, "in": true, "out": true}
		for _, f := range st.Fields {
			top := f.Name
			if len(f.Path) > 0 {
				top = f.Path[0]
			} else if i := strings.IndexByte(top, '.'); i >= 0 {
				top = top[:i]
			}
			t.fields[top] = true
		}
	}
	return t, nil
}

// reloadTables decides every table's shape again after SurrealDB's
// definitions changed. A field the PostgreSQL table has no column for
// stops the pipeline with the fix (nothing is dropped silently).
func (p *Pipeline) reloadTables(ctx context.Context) error {
	for _, name := range p.names {
		old := p.tables[name]
		t, err := p.loadTable(ctx, old.cfg)
		if err != nil {
			return err
		}
		t.start = old.start
		p.tables[name] = t
	}
	p.log.Info("SurrealDB definitions changed; table shapes reloaded", "tables", len(p.names))
	return nil
}

// target is the PostgreSQL table of a reverse table: schema and name.
func target(tc config.ReverseTable) (string, string) {
	s, n, _ := strings.Cut(tc.TargetName(), ".")
	return s, n
}

// copyPage is how many records one read of the initial copy takes.
const copyPage = 1000

// copyTable copies the current records of t into PostgreSQL in one
// transaction, replacing the target's rows (a two-way table keeps them
// and is upserted), and records that its changes up to start are in.
func (p *Pipeline) copyTable(ctx context.Context, t *table, start uint64) error {
	began := time.Now()
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if !t.cfg.TwoWay {
		if _, err := tx.Exec(ctx, "TRUNCATE "+t.target); err != nil {
			return pgErr(err, "emptying "+t.target+" before the copy")
		}
	}
	// The pages are read in one SurrealDB transaction: a consistent view,
	// so paging by offset neither skips nor repeats a record while others
	// write (a WHERE id > last ORDER BY id page scans the whole table in
	// SurrealDB 3.0).
	stx, err := p.cl.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("copying SurrealDB table %s: %w", t.cfg.Name, err)
	}
	defer func() { _ = stx.Cancel(context.WithoutCancel(ctx)) }()
	q := "SELECT * FROM " + surreal.Ident(t.cfg.Name) + " START $start LIMIT $limit"
	n := 0
	for {
		res, err := surrealdb.Query[[]map[string]any](ctx, stx, q, map[string]any{"start": n, "limit": copyPage})
		if err != nil {
			return fmt.Errorf("copying SurrealDB table %s: %w", t.cfg.Name, err)
		}
		recs := (*res)[0].Result
		if len(recs) == 0 {
			break
		}
		b := &pgx.Batch{}
		for _, rec := range recs {
			vals, err := t.shape.Row(rec)
			if err != nil {
				return &PermanentError{err}
			}
			b.Queue(t.upsert, vals...)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return applyErr(err, t.cfg.Name, "the initial copy")
		}
		n += len(recs)
		p.o.Metrics.CopiedRows.WithLabelValues(t.cfg.Name).Add(float64(len(recs)))
		if len(recs) < copyPage {
			break
		}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+p.tablesTable+` (source, surreal_table, target, start) VALUES ($1, $2, $3, $4::numeric)
ON CONFLICT (source, surreal_table) DO UPDATE SET target = EXCLUDED.target, start = EXCLUDED.start, copied_at = now()`,
		p.source, t.cfg.Name, t.shape.Schema()+"."+t.shape.Name(), strconv.FormatUint(start, 10)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	t.start = start
	p.log.Info("copied SurrealDB table into PostgreSQL", "surreal_table", t.cfg.Name, "table", t.shape.Schema()+"."+t.shape.Name(), "records", n, "took", time.Since(began).Round(time.Millisecond).String())
	return nil
}

// applyErr names what failed in PostgreSQL; data errors are permanent.
func applyErr(err error, what, where string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		class := pe.Code[:2]
		if class == "22" || class == "23" || class == "42" {
			if where == "" {
				return &PermanentError{fmt.Errorf("PostgreSQL refused the change to SurrealDB %s: %s (%s)", what, pe.Message, pe.Code)}
			}
			return &PermanentError{fmt.Errorf("PostgreSQL refused %s of SurrealDB %s: %s (%s)", where, what, pe.Message, pe.Code)}
		}
	}
	if where == "" {
		return fmt.Errorf("applying the change to SurrealDB %s: %w", what, err)
	}
	return fmt.Errorf("applying %s of SurrealDB %s: %w", where, what, err)
}

// recordName renders a record id for messages.
func recordName(id models.RecordID) string { return id.String() }

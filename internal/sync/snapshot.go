package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// insertBatch is the number of records per INSERT statement: statements
// of 100-200 records load fastest (see FACTS.md).
const insertBatch = 200

// chunk is a ctid range of one table: [from, to) in blocks; to < 0 means
// to the end of the table.
type chunk struct {
	table    *cdc.Table
	from, to int64
}

// snapshot copies every table as of a new slot's consistent point and
// returns that point, from which streaming continues.
func (p *Pipeline) snapshot(ctx context.Context) (cdc.LSN, error) {
	names := make([][2]string, len(p.tables))
	for i, t := range p.tables {
		names[i] = [2]string{t.Schema, t.Name}
	}
	admin, err := p.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	err = logrepl.EnsurePublication(ctx, admin.Conn(), p.o.Sync.Publication, names)
	admin.Release()
	if err != nil {
		return 0, &PermanentError{err}
	}
	// Mark the snapshot as started before touching the targets: a crash
	// from here on restarts the snapshot instead of streaming onto a
	// partial copy.
	if err := p.sink.Apply(ctx, nil, p.position(PhaseSnapshot, 0, time.Time{})); err != nil {
		return 0, err
	}
	if err := p.clearTargets(ctx); err != nil {
		return 0, err
	}

	repl, err := logrepl.ReplicationConn(ctx, p.o.Postgres, mapping.SessionParams)
	if err != nil {
		return 0, err
	}
	snap, lsn, err := logrepl.CreateSlot(ctx, repl, p.o.Sync.Slot)
	if err != nil {
		repl.Close(ctx)
		return 0, err
	}
	p.log.Info("snapshot started", "slot", p.o.Sync.Slot, "consistent_point", lsn.String(), "tables", len(p.tables))
	start := time.Now()
	rows, err := p.copyTables(ctx, snap)
	// The exported snapshot lives as long as the connection that created
	// it; streaming opens its own connection.
	repl.Close(context.WithoutCancel(ctx))
	if err != nil {
		return 0, err
	}
	// The column lists the copy used, for detecting later schema changes.
	var rels []mapping.Write
	for _, t := range p.tables {
		rels = append(rels, p.relationWrite(t.QualifiedName(), catalogColumns(t)))
	}
	if err := p.sink.Apply(ctx, rels, p.position(PhaseStreaming, lsn, time.Time{})); err != nil {
		return 0, err
	}
	if p.o.Applied != nil {
		p.o.Applied(ctx, p.allTargets(), uint64(lsn))
	}
	p.log.Info("snapshot finished", "rows", rows, "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return lsn, nil
}

// clearTargets removes every target and edge table, on each server that
// holds it, so a restarted snapshot never mixes with the remains of an
// earlier one.
func (p *Pipeline) clearTargets(ctx context.Context) error {
	place := p.sink.Placement()
	perServer := map[string]*strings.Builder{}
	sql := func(server string) *strings.Builder {
		if perServer[server] == nil {
			perServer[server] = &strings.Builder{}
		}
		return perServer[server]
	}
	seen := map[string]bool{}
	for _, s := range p.shapes {
		names := []string{s.Target}
		for _, e := range s.Edges {
			names = append(names, e.Name)
		}
		for _, server := range place.TableServers(s.Namespace, s.Database, s.Target) {
			ns, db := p.serverDefaults(server)
			b := sql(server)
			for _, n := range names {
				key := server + "/" + s.Namespace + "/" + s.Database + "/" + n
				if seen[key] {
					continue
				}
				seen[key] = true
				// Define each table up front: concurrent first inserts into a
				// table that does not exist yet conflict on its definition.
				b.WriteString(useTarget(s, ns, db))
				fmt.Fprintf(b, "REMOVE TABLE IF EXISTS %s;\n", surreal.Ident(n))
				if p.o.Sync.Schema != "schemafull" {
					fmt.Fprintf(b, "DEFINE TABLE %s;\n", surreal.Ident(n))
				}
			}
		}
	}
	if p.o.Sync.Schema == "schemafull" {
		for _, t := range p.tables {
			def, err := p.defineSchema(ctx, t, true)
			if err != nil {
				return err
			}
			s := p.shapes[t.QualifiedName()]
			for _, server := range place.TableServers(s.Namespace, s.Database, s.Target) {
				ns, db := p.serverDefaults(server)
				b := sql(server)
				b.WriteString(useTarget(s, ns, db))
				b.WriteString(def)
			}
		}
	}
	for _, server := range place.Servers() {
		if b := perServer[server]; b != nil {
			if err := p.sink.On(server).Exec(ctx, b.String(), nil); err != nil {
				return fmt.Errorf("SurrealDB server %q: %w", server, err)
			}
		}
	}
	return nil
}

// serverDefaults are the namespace and database of server (route).
func (p *Pipeline) serverDefaults(server string) (string, string) {
	if place := p.sink.Placement(); place != nil {
		c := place.Config(server)
		return c.Namespace, c.Database
	}
	return p.o.Surreal.Namespace, p.o.Surreal.Database
}

// useTarget switches to a table's namespace/database when it has its own.
func useTarget(s *mapping.Shape, ns, db string) string {
	if s.Namespace == "" && s.Database == "" {
		return fmt.Sprintf("USE NS %s DB %s;\n", surreal.Ident(ns), surreal.Ident(db))
	}
	return fmt.Sprintf("USE NS %s DB %s;\n", surreal.Ident(or(s.Namespace, ns)), surreal.Ident(or(s.Database, db)))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// copyTables copies all tables with SnapshotWorkers workers, each in a
// REPEATABLE READ transaction importing the exported snapshot, and each
// writing through its own SurrealDB connection.
func (p *Pipeline) copyTables(ctx context.Context, snap string) (int64, error) {
	chunks, err := p.plan(ctx)
	if err != nil {
		return 0, err
	}
	prog := newProgress(p.tables, p.o.Progress, p.log, p.o.Metrics)
	defer prog.stop()
	work := make(chan chunk)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, c := range chunks {
			select {
			case work <- c:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var total atomic.Int64
	for range max(1, p.o.Sync.SnapshotWorkers) {
		g.Go(func() error {
			w, err := p.newWorker(gctx, snap)
			if err != nil {
				return err
			}
			defer w.close()
			for c := range work {
				n, err := w.copy(gctx, c, prog)
				if err != nil {
					return err
				}
				total.Add(n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return total.Load(), nil
}

// plan splits each table into ctid ranges of about SnapshotChunkRows rows.
func (p *Pipeline) plan(ctx context.Context) ([]chunk, error) {
	var out []chunk
	for _, t := range p.tables {
		var pages, tuples int64
		err := p.pool.QueryRow(ctx, "SELECT (pg_relation_size($1::oid) / current_setting('block_size')::int8), GREATEST(reltuples, 0)::int8 FROM pg_class WHERE oid = $1", t.OID).Scan(&pages, &tuples)
		if err != nil {
			return nil, fmt.Errorf("sizing %s: %w", t.QualifiedName(), err)
		}
		perPage := int64(100)
		if pages > 0 && tuples > 0 {
			perPage = max(1, tuples/pages)
		}
		step := max(1, int64(p.o.Sync.SnapshotChunkRows)/perPage)
		for from := int64(0); from < pages; from += step {
			out = append(out, chunk{table: t, from: from, to: from + step})
		}
		if len(out) > 0 && out[len(out)-1].table == t {
			out[len(out)-1].to = -1
		} else {
			out = append(out, chunk{table: t, from: 0, to: -1})
		}
	}
	return out, nil
}

// worker copies chunks inside one snapshot transaction.
type worker struct {
	p      *Pipeline
	conn   *pgx.Conn
	sink   *sink.Sink
	mapper *mapping.Mapper
}

func (p *Pipeline) newWorker(ctx context.Context, snap string) (*worker, error) {
	conn, err := postgres.ConnectOne(ctx, p.o.Postgres, mapping.SessionParams)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(snap, "'", "''")+"'"); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("importing snapshot %s: %w", snap, err)
	}
	s, err := p.openSink(ctx)
	if err != nil {
		conn.Close(ctx)
		return nil, err
	}
	if err := s.Place(ctx, p.sink.Placement()); err != nil {
		_ = s.Close(ctx)
		conn.Close(ctx)
		return nil, err
	}
	w := &worker{p: p, conn: conn, sink: s, mapper: mapping.NewMapper(p.shapes, p.loadTypes(ctx))}
	return w, nil
}

func (w *worker) close() {
	_ = w.sink.Close(context.Background())
	_ = w.conn.Close(context.Background())
}

// copy reads one chunk in PostgreSQL's text format and loads it with
// batched INSERTs.
func (w *worker) copy(ctx context.Context, c chunk, prog *snapProgress) (int64, error) {
	t := c.table
	shape := w.p.shapes[t.QualifiedName()]
	cols := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		cols[i] = postgres.Ident(col.Name)
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE ctid >= '(%d,0)'::tid", strings.Join(cols, ", "), postgres.QualifiedIdent(t.Schema, t.Name), c.from)
	if c.to >= 0 {
		sql += fmt.Sprintf(" AND ctid < '(%d,0)'::tid", c.to)
	}
	rows, err := w.conn.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	row := mapping.Row{Names: make([]string, len(fields)), OIDs: make([]uint32, len(fields)), Vals: make(cdc.Tuple, len(fields))}
	for i, f := range fields {
		row.Names[i], row.OIDs[i] = f.Name, f.DataTypeOID
	}
	b := newLoader(w.p, w.sink, shape)
	var n int64
	for rows.Next() {
		for i, raw := range rows.RawValues() {
			if raw == nil {
				row.Vals[i] = cdc.Datum{Kind: cdc.Null}
			} else {
				row.Vals[i] = cdc.Datum{Kind: cdc.Text, Text: string(raw)}
			}
		}
		rec, err := w.mapper.Record(shape, row)
		if err != nil {
			return n, &PermanentError{err}
		}
		if err := b.add(ctx, rec); err != nil {
			return n, err
		}
		n++
		if n%insertBatch == 0 {
			prog.add(t, insertBatch)
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("reading %s: %w", t.QualifiedName(), err)
	}
	if err := b.flush(ctx); err != nil {
		return n, err
	}
	prog.add(t, n%insertBatch)
	return n, nil
}

// loader batches one table's records into INSERT statements, one batch
// per server for a partitioned table.
type loader struct {
	p     *Pipeline
	sink  *sink.Sink
	shape *mapping.Shape
	rule  *route.Rule // nil: the default server
	parts map[string]*batch
	n     int
}

// batch is the part of a loader's records bound for one server.
type batch struct {
	docs  []any
	edges map[string][]any
}

func newLoader(p *Pipeline, s *sink.Sink, shape *mapping.Shape) *loader {
	return &loader{p: p, sink: s, shape: shape, rule: s.Placement().Rule(shape.Namespace, shape.Database, shape.Target),
		parts: map[string]*batch{}}
}

func (l *loader) add(ctx context.Context, r mapping.Record) error {
	server := route.Default
	if l.rule != nil {
		var err error
		if server, err = l.rule.ServerOf(r.Doc["id"]); err != nil {
			return &PermanentError{fmt.Errorf("%s: %w", l.shape.Source, err)}
		}
	}
	b := l.parts[server]
	if b == nil {
		b = &batch{edges: map[string][]any{}}
		l.parts[server] = b
	}
	b.docs = append(b.docs, r.Doc)
	for name, e := range r.Edges {
		b.edges[name] = append(b.edges[name], e)
	}
	l.n++
	if l.n >= insertBatch {
		return l.flush(ctx)
	}
	return nil
}

func (l *loader) flush(ctx context.Context) error {
	if l.n == 0 {
		return nil
	}
	for _, server := range slices.Sorted(maps.Keys(l.parts)) {
		b := l.parts[server]
		if len(b.docs) == 0 {
			continue
		}
		if err := l.load(ctx, server, b); err != nil {
			return err
		}
		b.docs = b.docs[:0]
		clear(b.edges)
	}
	l.n = 0
	return nil
}

// load writes one server's batch.
func (l *loader) load(ctx context.Context, server string, bt *batch) error {
	// One statement per table and batch, no transaction around them:
	// larger transactions of parallel workers conflict more. The reverse
	// direction does not copy the snapshot of a two-way table back: it
	// starts reading the changefeeds after it (reverse's copy marker).
	var b strings.Builder
	vars := map[string]any{}
	ns, db := l.p.serverDefaults(server)
	b.WriteString(useTarget(l.shape, ns, db))
	if l.shape.Join != nil {
		fmt.Fprintf(&b, "INSERT RELATION INTO %s $rows RETURN NONE;\n", surreal.Ident(l.shape.Target))
	} else {
		fmt.Fprintf(&b, "INSERT INTO %s $rows RETURN NONE;\n", surreal.Ident(l.shape.Target))
	}
	vars["rows"] = bt.docs
	i := 0
	for name, es := range bt.edges {
		v := fmt.Sprintf("e%d", i)
		i++
		fmt.Fprintf(&b, "INSERT RELATION INTO %s $%s RETURN NONE;\n", surreal.Ident(name), v)
		vars[v] = es
	}
	// One statement per table is all or nothing, so a conflict can be
	// retried without duplicating anything.
	target := l.sink.On(server)
	err := retry(ctx, l.p.log, "loading "+l.shape.Source, func() error {
		err := target.Exec(ctx, b.String(), vars)
		if err != nil && !sink.IsRetryable(err) {
			return &PermanentError{err}
		}
		if err != nil && !isConflict(err) {
			if rerr := l.sink.Reconnect(ctx); rerr != nil {
				return rerr
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("loading %s into SurrealDB server %q: %w", l.shape.Source, server, err)
	}
	return nil
}

func isConflict(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "conflict")
}

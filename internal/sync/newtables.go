package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// AddTablePrefix marks the logical decoding message that announces a
// table joining the publication.
const AddTablePrefix = "pgsurreal_add_table"

// watchNewTables adds tables that appear after the start and match
// sync.include to the publication, every interval. The ALTER PUBLICATION
// and a transactional message naming the table commit together, so the
// applier learns of the table exactly where its changes start to flow.
func (p *Pipeline) watchNewTables(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.addNewTables(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("checking for new tables", "err", err)
		}
	}
}

func (p *Pipeline) addNewTables(ctx context.Context) error {
	tables, err := mapping.SelectTables(ctx, p.pool, p.o.Sync)
	if err != nil {
		return err
	}
	p.mu.Lock()
	known := map[string]bool{}
	for _, t := range p.tables {
		known[t.QualifiedName()] = true
	}
	p.mu.Unlock()
	for _, t := range tables {
		if known[t.QualifiedName()] || p.announced[t.QualifiedName()] {
			continue
		}
		if err := mapping.CheckIdentity([]*cdc.Table{t}, mapping.ConfiguredOptions(p.o.Sync)); err != nil {
			p.log.Warn("new table not replicated", "table", t.QualifiedName(), "err", err)
			p.announced[t.QualifiedName()] = true
			continue
		}
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "ALTER PUBLICATION "+postgres.Ident(p.o.Sync.Publication)+" ADD TABLE "+postgres.QualifiedIdent(t.Schema, t.Name)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", AddTablePrefix, t.QualifiedName())
			return err
		})
		if err != nil {
			return fmt.Errorf("adding %s to publication %s: %w", t.QualifiedName(), p.o.Sync.Publication, err)
		}
		p.announced[t.QualifiedName()] = true
		p.log.Info("new table joins the replication", "table", t.QualifiedName())
	}
	return nil
}

// joinTable handles the announcement of a new table in the stream: it
// shapes the table, (re)defines its target, copies its current rows with
// upserts and records its columns. Rows changed after the announcement
// also arrive as changes, later in the stream, so the copy converges.
func (a *applier) joinTable(ctx context.Context, name string) ([]mapping.Write, error) {
	p := a.p
	schema, table, _ := cutQualified(name)
	t, err := postgres.DescribeTable(ctx, p.pool, schema, table)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	all := append(slices.Clone(p.tables), t)
	p.mu.Unlock()
	opts, err := mapping.OptionsFor(ctx, p.pool, all, p.o.Sync)
	if err != nil {
		return nil, err
	}
	shapes, err := mapping.BuildShapes(all, opts, p.o.Sync.Nulls == "omit")
	if err != nil {
		return nil, &PermanentError{err}
	}
	s := shapes[name]
	p.mu.Lock()
	p.tables = all
	p.shapes[name] = s
	place, err := route.New(p.o.Surreal, p.o.Sync, p.shapes)
	p.mu.Unlock()
	if err != nil {
		return nil, &PermanentError{err}
	}
	// A new table may live on a server of its own (sync.tables[].server).
	if err := p.sink.Place(ctx, place); err != nil {
		return nil, err
	}

	def := fmt.Sprintf("REMOVE TABLE IF EXISTS %s;\n", surreal.Ident(s.Target))
	if p.o.Sync.Schema == "schemafull" {
		d, err := p.defineSchema(ctx, t, true)
		if err != nil {
			return nil, err
		}
		def += d
	} else {
		def += fmt.Sprintf("DEFINE TABLE %s;\n", surreal.Ident(s.Target))
	}
	out := []mapping.Write{{Kind: mapping.Define, Statement: def, Source: name + " (new table)", Namespace: s.Namespace, Database: s.Database, Table: s.Target}}
	cols := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	rows, err := a.readRows(ctx, t.Schema, t.Name, cols)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		ws, err := a.mapper.Writes(cdc.Change{Op: cdc.OpInsert, Rel: relationOf(t), New: r.Vals})
		if err != nil {
			return nil, &PermanentError{err}
		}
		for i := range ws {
			ws[i].Insert = false // the stream may already have created it
		}
		out = append(out, ws...)
	}
	a.known[name] = catalogColumns(t)
	p.log.Info("new table copied", "table", name, "rows", len(rows))
	return append(out, p.relationWrite(name, catalogColumns(t))), nil
}

// relationOf presents a catalog table as a stream relation.
func relationOf(t *cdc.Table) *cdc.Relation {
	return &cdc.Relation{Schema: t.Schema, Name: t.Name, ReplicaIdentity: t.ReplicaIdentity, Columns: catalogColumns(t)}
}

func cutQualified(name string) (string, string, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' {
			return name[:i], name[i+1:], true
		}
	}
	return "public", name, false
}

// readRows reads cols of every row of a table in PostgreSQL's text format
// (with the session settings the mapping expects).
func (a *applier) readRows(ctx context.Context, schema, table string, cols []string) ([]mapping.Row, error) {
	conn, err := postgres.ConnectOne(ctx, a.p.o.Postgres, mapping.SessionParams)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = postgres.Ident(c)
	}
	rows, err := conn.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+postgres.QualifiedIdent(schema, table), pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, fmt.Errorf("reading %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	var out []mapping.Row
	for rows.Next() {
		r := mapping.Row{}
		for i, raw := range rows.RawValues() {
			r.Names = append(r.Names, fds[i].Name)
			r.OIDs = append(r.OIDs, fds[i].DataTypeOID)
			if raw == nil {
				r.Vals = append(r.Vals, cdc.Datum{Kind: cdc.Null})
			} else {
				r.Vals = append(r.Vals, cdc.Datum{Kind: cdc.Text, Text: string(raw)})
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

package demo

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// datasetSQL creates and fills the demo tables (deterministically).
//
//go:embed dataset.sql
var datasetSQL string

// dataTables are the dataset's tables, in the order they are shown.
var dataTables = []string{"users", "products", "orders", "order_items", "payments", "friendships"}

// session holds the demo's connections: an admin connection to another
// database (to drop and create the demo one), a pool on the demo
// database once it exists, and a SurrealDB client on the demo namespace.
type session struct {
	o     Options
	admin *pgx.Conn
	pool  *pgxpool.Pool
	sur   *surreal.Client
}

// connect reaches both servers before anything is changed, so a stopped
// dev stack fails fast with the fix (`pgsurreal dev up`).
func connect(ctx context.Context, o Options) (*session, error) {
	admin, err := postgres.ConnectOne(ctx, o.adminPG(), nil)
	if err != nil {
		return nil, err
	}
	sur, err := surreal.Connect(ctx, o.demoSurreal(), o.Log)
	if err != nil {
		_ = admin.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return &session{o: o, admin: admin, sur: sur}, nil
}

func (d *session) close() {
	ctx := context.Background()
	if d.pool != nil {
		d.pool.Close()
	}
	_ = d.admin.Close(ctx)
	_ = d.sur.Close(ctx)
}

// createDatabase drops the demo database (with its replication slots and
// connections) if it exists and creates it empty; it also empties the
// SurrealDB namespace.
func (d *session) createDatabase(ctx context.Context) error {
	rows, err := d.admin.Query(ctx, `SELECT slot_name::text, COALESCE(database::text, '') FROM pg_replication_slots WHERE database = $1 OR slot_name = $2`, d.o.Database, d.o.Slot)
	if err != nil {
		return fmt.Errorf("reading replication slots: %w", err)
	}
	slots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var s [2]string
		return s, r.Scan(&s[0], &s[1])
	})
	if err != nil {
		return fmt.Errorf("reading replication slots: %w", err)
	}
	for _, s := range slots {
		if s[1] != d.o.Database {
			return fmt.Errorf("replication slot %s already exists for database %q, not the demo's %q: drop it (SELECT pg_drop_replication_slot('%s')) or use another slot name", s[0], s[1], d.o.Database, s[0])
		}
		if err := dropSlot(ctx, d.admin, s[0]); err != nil {
			return err
		}
	}
	if _, err := d.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+postgres.Ident(d.o.Database)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping the previous demo database %s: %w", d.o.Database, err)
	}
	if _, err := d.admin.Exec(ctx, "CREATE DATABASE "+postgres.Ident(d.o.Database)); err != nil {
		return fmt.Errorf("creating database %s (the demo needs a role with CREATEDB and REPLICATION, such as the dev stack's): %w", d.o.Database, err)
	}
	q := "REMOVE NAMESPACE IF EXISTS " + surreal.Ident(d.o.Namespace) + ";\n" +
		"DEFINE NAMESPACE " + surreal.Ident(d.o.Namespace) + ";\n" +
		"USE NS " + surreal.Ident(d.o.Namespace) + ";\n" +
		"DEFINE DATABASE " + surreal.Ident(d.o.SurrealDatabase) + ";\n" +
		"USE NS " + surreal.Ident(d.o.Namespace) + " DB " + surreal.Ident(d.o.SurrealDatabase) + ";"
	if _, err := surrealdb.Query[any](ctx, d.sur.DB, q, nil); err != nil {
		return fmt.Errorf("emptying SurrealDB namespace %s: %w", d.o.Namespace, err)
	}
	return nil
}

// load runs the dataset script and opens the pool on the demo database.
func (d *session) load(ctx context.Context) error {
	conn, err := postgres.ConnectOne(ctx, d.o.demoPG(), nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// No arguments: pgx sends the script with the simple protocol, as
	// one implicit transaction.
	if _, err := conn.Exec(ctx, datasetSQL); err != nil {
		return fmt.Errorf("loading the demo dataset into %s: %w", d.o.Database, err)
	}
	d.pool, err = postgres.Connect(ctx, d.o.demoPG())
	return err
}

// dropSlot drops a replication slot, ending a walsender still holding it
// and retrying while the slot is released.
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _ = conn.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", name)
		_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", name)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("dropping replication slot %s: %w", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dropSlot drops the demo's slot after the pipeline stopped.
func (d *session) dropSlot(ctx context.Context) error {
	return dropSlot(ctx, d.admin, d.o.Slot)
}

// tally is one line of the count comparison: a PostgreSQL count and the
// SurrealDB table that should hold as many records.
type tally struct {
	label   string
	pgQuery string
	surreal string
}

func tallies() []tally {
	var ts []tally
	for _, t := range dataTables {
		label := t
		if t == "friendships" {
			label = "friendships (edges)"
		}
		ts = append(ts, tally{label: label, pgQuery: "SELECT count(*) FROM " + postgres.Ident(t), surreal: t})
	}
	return append(ts, tally{label: "placed (edges)", pgQuery: "SELECT count(*) FROM orders WHERE user_id IS NOT NULL", surreal: "placed"})
}

// pgCounts counts the dataset's tables in PostgreSQL.
func (d *session) pgCounts(ctx context.Context) ([]Count, error) {
	var out []Count
	for _, t := range tallies() {
		c := Count{Table: t.label}
		if err := d.pool.QueryRow(ctx, t.pgQuery).Scan(&c.Postgres); err != nil {
			return nil, fmt.Errorf("counting %s in PostgreSQL: %w", t.label, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// counts counts every table on both sides.
func (d *session) counts(ctx context.Context) ([]Count, error) {
	out, err := d.pgCounts(ctx)
	if err != nil {
		return nil, err
	}
	for i, t := range tallies() {
		res, err := surrealdb.Query[[]struct {
			N int64 `json:"n"`
		}](ctx, d.sur.DB, "SELECT count() AS n FROM "+surreal.Ident(t.surreal)+" GROUP ALL", nil)
		if err != nil {
			return nil, fmt.Errorf("counting %s in SurrealDB: %w", t.surreal, err)
		}
		if len(*res) > 0 && len((*res)[0].Result) > 0 {
			out[i].Surreal = (*res)[0].Result[0].N
		}
	}
	return out, nil
}

// compare prints the counts of both sides next to each other.
func (d *session) compare(ctx context.Context, p *printer) ([]Count, error) {
	counts, err := d.counts(ctx)
	if err != nil {
		return nil, err
	}
	p.note("every table on both sides: PostgreSQL count(*) next to SurrealDB count()")
	p.line("%-20s %12s %12s", "table", "PostgreSQL", "SurrealDB")
	var bad []string
	for _, c := range counts {
		mark := p.style(styleGreen, "ok")
		if p.color {
			mark = p.style(styleGreen, "✓")
		}
		if c.Postgres != c.Surreal {
			mark = p.style(styleRed, "MISMATCH")
			bad = append(bad, c.Table)
		}
		p.line("%-20s %12s %12s  %s", c.Table, thousands(c.Postgres), thousands(c.Surreal), mark)
	}
	if len(bad) > 0 {
		return counts, fmt.Errorf("SurrealDB does not match PostgreSQL after the snapshot for %s: please report this as a bug", strings.Join(bad, ", "))
	}
	return counts, nil
}

// isMissing reports whether a SurrealDB error says the table (or the
// namespace or database) does not exist yet.
func isMissing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "does not exist")
}

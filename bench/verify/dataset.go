package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// table is the benchmark's table: public.bench in PostgreSQL, bench in
// SurrealDB.
const (
	pgTable      = "public.bench"
	surrealTable = "bench"
)

// columnNames are the same, as the readers select them.
var columnNames = []string{"id", "qty", "name", "price", "score", "active", "created_at", "ref", "attrs", "day"}

// selectSQL reads the table as verify does: every column, in key order.
func selectSQL() string {
	cols := make([]string, len(columnNames))
	for i, c := range columnNames {
		cols[i] = postgres.Ident(c)
	}
	return fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(cols, ", "), postgres.QualifiedIdent("public", "bench"), postgres.Ident("id"))
}

// load copies the table into SurrealDB with pgsurreal's own snapshot, so
// the records are exactly what replication writes, and checks the count.
func load(ctx context.Context, pg config.Postgres, sur config.Surreal, sc config.Sync, log *slog.Logger, rows int) error {
	n, err := pgsync.Snapshot(ctx, pgsync.Options{Postgres: pg, Surreal: sur, Sync: sc, Log: log})
	if err != nil {
		return fmt.Errorf("pgsurreal snapshot: %w", err)
	}
	db, err := harness.Connect(ctx, sur)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	got, err := harness.Count(ctx, db, surrealTable)
	if err != nil {
		return err
	}
	if n != int64(rows) || got != int64(rows) {
		return fmt.Errorf("pgsurreal snapshot copied %d rows and SurrealDB holds %d records of %s, want %d", n, got, surrealTable, rows)
	}
	return nil
}

// Drift injected into SurrealDB for the 100-difference measurement.
const (
	driftChanged = 40
	driftDeleted = 30
	driftExtra   = 30
	driftTotal   = driftChanged + driftDeleted + driftExtra
)

// drift is the 100 differences: records changed with UPDATE and deleted,
// spread over the table, and extra records under ids PostgreSQL does not
// have (half below its first id, half past its last, so both the first
// chunk and the tail after the last chunk see some). The records it
// touches are read before and written back after each use.
type drift struct {
	changed, deleted, extra []models.RecordID
	// originals are the changed and deleted records as read before the
	// first injection.
	originals []map[string]any
}

func newDrift(rows int) *drift {
	d := &drift{}
	n := driftChanged + driftDeleted
	for k := range n {
		id := models.NewRecordID(surrealTable, int64(1+k*rows/n+rows/(2*n)))
		if k%7 < 4 { // 4 in 7 changed (40), 3 in 7 deleted (30)
			d.changed = append(d.changed, id)
		} else {
			d.deleted = append(d.deleted, id)
		}
	}
	for k := range driftExtra / 2 {
		d.extra = append(d.extra, models.NewRecordID(surrealTable, int64(-1-k)), models.NewRecordID(surrealTable, int64(rows+1+k)))
	}
	return d
}

func (d *drift) touched() []models.RecordID {
	return append(append([]models.RecordID{}, d.changed...), d.deleted...)
}

func (d *drift) all() []models.RecordID { return append(d.touched(), d.extra...) }

// inject changes 40 records (qty and name), deletes 30 and creates 30
// extra ones (copies of the deleted records' content under new ids).
func (d *drift) inject(ctx context.Context, db *surrealdb.DB) error {
	if d.originals == nil {
		recs, err := records(ctx, db, d.touched())
		if err != nil {
			return err
		}
		if len(recs) != len(d.touched()) {
			return fmt.Errorf("reading the records to change: got %d of %d", len(recs), len(d.touched()))
		}
		d.originals = recs
	}
	deleted := map[string]bool{}
	for _, id := range d.deleted {
		deleted[mapping.Canon(id)] = true
	}
	var extra []map[string]any
	for _, rec := range d.originals {
		if !deleted[mapping.Canon(rec["id"])] {
			continue
		}
		doc := make(map[string]any, len(rec))
		for k, v := range rec {
			doc[k] = v
		}
		doc["id"] = d.extra[len(extra)]
		extra = append(extra, doc)
	}
	q := "UPDATE $changed SET qty = qty + 1, name = string::concat(name, $suffix) RETURN NONE;\n" +
		"DELETE $deleted RETURN NONE;\n" +
		"INSERT INTO " + surreal.Ident(surrealTable) + " $extra RETURN NONE;"
	return exec(ctx, db, q, map[string]any{"changed": d.changed, "suffix": " (drift)", "deleted": d.deleted, "extra": extra})
}

// restore writes the original records back, removes the extra ones and
// checks that the records are the originals again.
func (d *drift) restore(ctx context.Context, db *surrealdb.DB) error {
	q := "DELETE $all RETURN NONE;\nINSERT INTO " + surreal.Ident(surrealTable) + " $originals RETURN NONE;"
	if err := exec(ctx, db, q, map[string]any{"all": d.all(), "originals": d.originals}); err != nil {
		return fmt.Errorf("restoring the drifted records: %w", err)
	}
	got, err := records(ctx, db, d.all())
	if err != nil {
		return err
	}
	want := map[string]string{}
	for _, rec := range d.originals {
		want[mapping.Canon(rec["id"])] = mapping.Canon(rec)
	}
	for _, rec := range got {
		k := mapping.Canon(rec["id"])
		if want[k] != mapping.Canon(rec) {
			return fmt.Errorf("restoring the drifted records: %s is %s, want %s", k, mapping.Canon(rec), want[k])
		}
		delete(want, k)
	}
	if len(want) > 0 || len(got) != len(d.originals) {
		return fmt.Errorf("restoring the drifted records: read back %d records, want %d", len(got), len(d.originals))
	}
	return nil
}

// records reads the records of ids that exist.
func records(ctx context.Context, db *surrealdb.DB, ids []models.RecordID) ([]map[string]any, error) {
	res, err := surrealdb.Query[[]map[string]any](ctx, db, "SELECT * FROM $ids", map[string]any{"ids": ids})
	if err != nil {
		return nil, err
	}
	if len(*res) == 0 {
		return nil, nil
	}
	if r := (*res)[0]; r.Error != nil {
		return nil, r.Error
	}
	return (*res)[0].Result, nil
}

// exec runs statements and fails on the first that failed.
func exec(ctx context.Context, db *surrealdb.DB, q string, vars map[string]any) error {
	res, err := surrealdb.Query[any](ctx, db, q, vars)
	if err != nil {
		return err
	}
	for _, r := range *res {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}

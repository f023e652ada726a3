package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// confirm re-checks a reverse table's candidates by key: it reads the
// source records, lets the reverse direction catch up, compares them
// with the rows in PostgreSQL, and reads the records again. A key whose
// record did not change in between and whose row differs is confirmed;
// one that changed is checked again, up to rounds times.
func (b *backward) confirm(ctx context.Context, conn *pgx.Conn, cands []candidate) ([]Difference, []string, error) {
	pending := cands
	var diffs []Difference
	for round := 0; round < rounds && len(pending) > 0; round++ {
		before, err := b.records(ctx, pending)
		if err != nil {
			return nil, nil, err
		}
		if err := b.v.waitReverse(ctx); err != nil {
			return nil, nil, err
		}
		found, err := b.compareKeys(ctx, conn, pending, before)
		if err != nil {
			return nil, nil, err
		}
		after, err := b.records(ctx, pending)
		if err != nil {
			return nil, nil, err
		}
		byKey := map[string]Difference{}
		for _, d := range found {
			byKey[strings.Join(d.cand.keys, "\x00")] = d
		}
		var again []candidate
		for _, c := range pending {
			k := strings.Join(c.keys, "\x00")
			if mapping.Canon(before[k]) != mapping.Canon(after[k]) {
				again = append(again, c)
				continue
			}
			if d, ok := byKey[strings.Join(c.keys, "\x00")]; ok {
				diffs = append(diffs, d)
			}
		}
		pending = again
	}
	var unsettled []string
	for _, c := range pending {
		unsettled = append(unsettled, "("+strings.Join(c.keys, ", ")+")")
	}
	return diffs, unsettled, nil
}

// records reads the source records of cands by id, keyed by their key
// columns' text. A key read from a text column may be the text of a
// numeric id: both forms are looked up.
func (b *backward) records(ctx context.Context, cands []candidate) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	var ids []models.RecordID
	for _, c := range cands {
		ids = append(ids, models.NewRecordID(b.cfg.Name, c.id))
		if s, ok := c.id.(string); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(n, 10) == s {
				ids = append(ids, models.NewRecordID(b.cfg.Name, n))
			}
		}
	}
	for start := 0; start < len(ids); start += lookupBatch {
		part := ids[start:min(start+lookupBatch, len(ids))]
		var res *[]surrealdb.QueryResult[[]map[string]any]
		err := b.v.sur.Do(ctx, func(ctx context.Context, cl *surreal.Client) (err error) {
			res, err = surrealdb.Query[[]map[string]any](ctx, cl.DB, "SELECT * FROM $ids", map[string]any{"ids": part})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("re-reading SurrealDB table %s by id: %w", b.cfg.Name, err)
		}
		for _, rec := range (*res)[0].Result {
			key, err := b.shape.Key(rec["id"])
			if err != nil {
				continue // an id that maps to no key of this table
			}
			out[strings.Join(texts(key), "\x00")] = rec
		}
	}
	return out, nil
}

func texts(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprint(v)
	}
	return out
}

// compareKeys compares the records read with the replica rows of the
// candidates' keys.
func (b *backward) compareKeys(ctx context.Context, conn *pgx.Conn, cands []candidate, recs map[string]map[string]any) ([]Difference, error) {
	list := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		list = append(list, r)
	}
	ids, err := b.fill(ctx, conn, list)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "TRUNCATE verify_keys"); err != nil {
		return nil, err
	}
	rows := make([][]any, len(cands))
	for i, c := range cands {
		rows[i] = make([]any, len(c.keys))
		for j, k := range c.keys {
			rows[i][j] = k
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"verify_keys"}, b.cols[:b.nkey], pgx.CopyFromRows(rows)); err != nil {
		return nil, err
	}
	where := b.keyTuple("t") + " IN (SELECT " + b.keyCasts("k") + " FROM verify_keys k)"
	found, err := b.differences(ctx, conn, b.compareSQL(where), nil, ids)
	if err != nil {
		return nil, fmt.Errorf("re-checking SurrealDB table %s against %s: %w", b.cfg.Name, b.target, err)
	}
	return found, nil
}

// repair rewrites the replica rows of the confirmed differences from the
// source records as they are now, with the reverse direction's own
// statements, in one PostgreSQL transaction. It returns the keys it
// rewrote.
func (b *backward) repair(ctx context.Context, conn *pgx.Conn, diffs []Difference) ([]candidate, error) {
	seen := map[string]bool{}
	var keys []candidate
	for _, d := range diffs {
		k := strings.Join(d.cand.keys, "\x00")
		if !seen[k] {
			seen[k] = true
			keys = append(keys, d.cand)
		}
	}
	recs, err := b.records(ctx, keys)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	conds := make([]string, b.nkey)
	for i := range conds {
		conds[i] = fmt.Sprintf("t.%s = $%d::text::%s", postgres.Ident(b.cols[i]), i+1, b.types[i])
	}
	del := "DELETE FROM " + b.target + " t WHERE " + strings.Join(conds, " AND ")
	batch := &pgx.Batch{}
	for _, c := range keys {
		rec := recs[strings.Join(c.keys, "\x00")]
		if rec == nil {
			args := make([]any, len(c.keys))
			for i, k := range c.keys {
				args[i] = k
			}
			batch.Queue(del, args...)
			continue
		}
		vals, err := b.shape.Row(rec)
		if err != nil {
			return nil, err
		}
		batch.Queue(b.shape.UpsertSQL(), vals...)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("repairing %s from SurrealDB table %s: %w", b.target, b.cfg.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("repairing %s: %w", b.target, err)
	}
	b.v.log.Info("repaired rows from SurrealDB", "table", b.cfg.Name, "replica", b.cfg.TargetName(), "keys", len(keys))
	return keys, nil
}

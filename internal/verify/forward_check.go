package verify

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// rounds is how many times a mismatch is re-checked while its row keeps
// changing.
const rounds = 5

// lookupBatch is the most keys one re-check query names.
const lookupBatch = 1000

// fwdChecker confirms and repairs a forward table's candidates by key.
type fwdChecker struct {
	f *forward
	m *mapping.Mapper
}

func (f *forward) checker() *fwdChecker { return &fwdChecker{f: f, m: f.mapper()} }

// srcState is a source row read by key: its mapped record, its raw text
// (to tell whether it changed between two reads) and the row itself
// (for repair).
type srcState struct {
	rec mapping.Record
	raw string
	row mapping.Row
}

// confirm re-checks candidates by key: it reads the source rows, lets the
// sync catch up with them, reads the records, and reads the rows again.
// A key whose row did not change in between and whose records differ is
// a confirmed difference; one that changed is checked again, up to
// rounds times, then reported as unsettled.
func (c *fwdChecker) confirm(ctx context.Context, cands []candidate) ([]Difference, []string, error) {
	pending := cands
	var diffs []Difference
	for round := 0; round < rounds && len(pending) > 0; round++ {
		before, err := c.rows(ctx, pending)
		if err != nil {
			return nil, nil, err
		}
		if err := c.f.v.waitSync(ctx); err != nil {
			return nil, nil, err
		}
		recs, err := c.records(ctx, pending)
		if err != nil {
			return nil, nil, err
		}
		after, err := c.rows(ctx, pending)
		if err != nil {
			return nil, nil, err
		}
		var again []candidate
		for _, cand := range pending {
			k := mapping.Canon(cand.id)
			b, a := before[k], after[k]
			if (b == nil) != (a == nil) || (b != nil && b.raw != a.raw) {
				again = append(again, cand)
				continue
			}
			diffs = append(diffs, c.differences(cand, b, recs)...)
		}
		pending = again
	}
	var unsettled []string
	for _, cand := range pending {
		unsettled = append(unsettled, renderID(cand.id))
	}
	return diffs, unsettled, nil
}

// differences compares a source row (nil: absent) with its records.
func (c *fwdChecker) differences(cand candidate, src *srcState, recs map[string]map[string]map[string]any) []Difference {
	var out []Difference
	k := mapping.Canon(cand.id)
	for _, r := range c.f.replicas() {
		var want map[string]any
		if src != nil {
			want = r.expect(&src.rec)
		}
		got := recs[r.name][k]
		d := Difference{Table: r.name, Key: r.name + ":" + renderID(cand.id), cand: cand}
		switch {
		case want != nil && got == nil:
			d.Kind = Missing
		case want == nil && got != nil:
			d.Kind = Extra
		case want != nil && mapping.Canon(want) != mapping.Canon(got):
			d.Kind, d.Fields = Different, fieldDiff(want, got)
			d.Source, d.Replica = shown(want), shown(got)
		default:
			continue
		}
		out = append(out, d)
	}
	return out
}

// keyTexts are a candidate's key columns as text: the row's own for a
// row read from PostgreSQL, the record id's parts for an extra record.
func (c *fwdChecker) keyTexts(cand candidate) []string {
	if cand.keys != nil {
		return cand.keys
	}
	n := len(c.f.shape.Key)
	if parts, ok := cand.id.([]any); ok && n > 1 {
		out := make([]string, len(parts))
		for i, p := range parts {
			out[i] = idText(p)
		}
		return out
	}
	return []string{idText(cand.id)}
}

func idText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case models.UUID:
		return x.String()
	}
	return fmt.Sprint(v)
}

// renderID shows a record id part: 7, 'abc', [1, 'a'].
func renderID(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", `\'`) + "'"
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = renderID(p)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case models.UUID:
		return "u'" + x.String() + "'"
	}
	return fmt.Sprint(v)
}

// rows reads the source rows of cands by key, keyed by mapping.Canon of
// their id part. Keys of different types than the columns' (a string id
// in an integer table) match nothing.
func (c *fwdChecker) rows(ctx context.Context, cands []candidate) (map[string]*srcState, error) {
	t := c.f.table
	out := map[string]*srcState{}
	conn, err := postgres.ConnectOne(ctx, c.f.v.cfg.Postgres, mapping.SessionParams)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var keyCols, unnest []string
	for i, k := range c.f.shape.Key {
		col, _ := t.Column(k)
		keyCols = append(keyCols, postgres.Ident(k))
		unnest = append(unnest, fmt.Sprintf("$%d::text[]::%s[]", i+1, col.TypeName))
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE (%s) IN (SELECT * FROM unnest(%s))", strings.Join(c.f.columns(), ", "),
		postgres.QualifiedIdent(t.Schema, t.Name), strings.Join(keyCols, ", "), strings.Join(unnest, ", "))
	for start := 0; start < len(cands); start += lookupBatch {
		part := cands[start:min(start+lookupBatch, len(cands))]
		args := make([]any, len(c.f.shape.Key))
		for i := range args {
			col := make([]string, 0, len(part))
			for _, cand := range part {
				kt := c.keyTexts(cand)
				if len(kt) != len(args) {
					continue
				}
				col = append(col, kt[i])
			}
			args[i] = col
		}
		if err := c.readRows(ctx, conn, sql, args, out); err != nil {
			return nil, fmt.Errorf("re-reading %s by key: %w", t.QualifiedName(), err)
		}
	}
	return out, nil
}

func (c *fwdChecker) readRows(ctx context.Context, conn *pgx.Conn, sql string, args []any, out map[string]*srcState) error {
	rows, err := conn.Query(ctx, sql, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		// A key text the column type cannot take (an extra record whose id
		// is of another kind) matches no row.
		if strings.Contains(err.Error(), "invalid input syntax") {
			return nil
		}
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r := textRow(rows)
		rec, err := c.m.Record(c.f.shape, r)
		if err != nil {
			return err
		}
		var raw strings.Builder
		for _, d := range r.Vals {
			if d.Kind == cdc.Null {
				raw.WriteString("\x01")
			} else {
				raw.WriteString(d.Text)
			}
			raw.WriteByte(0)
		}
		out[mapping.Canon(rec.Doc["id"])] = &srcState{rec: rec, raw: raw.String(), row: r}
	}
	return rows.Err()
}

// records reads each replica's records of cands, by replica and key.
func (c *fwdChecker) records(ctx context.Context, cands []candidate) (map[string]map[string]map[string]any, error) {
	out := map[string]map[string]map[string]any{}
	for _, r := range c.f.replicas() {
		got := map[string]map[string]any{}
		for start := 0; start < len(cands); start += lookupBatch {
			part := cands[start:min(start+lookupBatch, len(cands))]
			ids := make([]models.RecordID, len(part))
			for i, cand := range part {
				ids[i] = models.NewRecordID(r.name, cand.id)
			}
			var res *[]surrealdb.QueryResult[[]map[string]any]
			err := c.f.v.surrealDo(ctx, c.f.shape.Namespace, c.f.shape.Database, func(ctx context.Context, db *surrealdb.DB) (err error) {
				res, err = surrealdb.Query[[]map[string]any](ctx, db, "SELECT * FROM $ids", map[string]any{"ids": ids})
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("re-reading SurrealDB table %s by id: %w", r.name, err)
			}
			for _, rec := range (*res)[0].Result {
				id := recordKey(rec)
				doc := maps.Clone(rec)
				doc["id"] = id
				got[mapping.Canon(id)] = doc
			}
		}
		out[r.name] = got
	}
	return out, nil
}

// repair rewrites the records of the confirmed differences from the
// source rows as they are now, through the sync's own mapping and
// writes, in transactions tagged as pgsurreal's (the reverse direction
// does not copy them back). It returns the keys it rewrote.
func (c *fwdChecker) repair(ctx context.Context, diffs []Difference, _ map[string]candidate) ([]candidate, error) {
	seen := map[string]bool{}
	var keys []candidate
	for _, d := range diffs {
		k := mapping.Canon(d.cand.id)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, d.cand)
		}
	}
	rows, err := c.rows(ctx, keys)
	if err != nil {
		return nil, err
	}
	s, err := sink.Open(ctx, c.f.v.cfg.Surreal, c.f.v.cfg.Sync.Slot, c.f.v.log)
	if err != nil {
		return nil, err
	}
	defer s.Close(context.WithoutCancel(ctx))
	rel := &cdc.Relation{Schema: c.f.table.Schema, Name: c.f.table.Name}
	for _, col := range c.f.table.Columns {
		rel.Columns = append(rel.Columns, cdc.Column{Name: col.Name, TypeOID: col.TypeOID, TypeMod: col.TypeMod})
	}
	var ws []mapping.Write
	flush := func() error {
		if len(ws) == 0 {
			return nil
		}
		err := s.Repair(ctx, ws, "verify repair")
		ws = ws[:0]
		return err
	}
	for _, cand := range keys {
		src := rows[mapping.Canon(cand.id)]
		if src == nil {
			ws = append(ws, c.deletes(cand.id)...)
		} else {
			got, err := c.m.Writes(cdc.Change{Op: cdc.OpInsert, Rel: rel, New: src.row.Vals})
			if err != nil {
				return nil, err
			}
			for i := range got {
				got[i].Insert = false // the record may exist: replace it
			}
			ws = append(ws, got...)
		}
		if len(ws) >= 500 {
			if err := flush(); err != nil {
				return nil, fmt.Errorf("repairing %s: %w", c.f.table.QualifiedName(), err)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("repairing %s: %w", c.f.table.QualifiedName(), err)
	}
	c.f.v.log.Info("repaired records from PostgreSQL", "table", c.f.table.QualifiedName(), "keys", len(keys))
	return keys, nil
}

// deletes removes the record of id and its edge records.
func (c *fwdChecker) deletes(id any) []mapping.Write {
	s := c.f.shape
	out := []mapping.Write{{Kind: mapping.Delete, Namespace: s.Namespace, Database: s.Database, Table: s.Target, ID: id, Source: s.Source + " key " + renderID(id) + " (extra record)"}}
	for _, e := range s.Edges {
		out = append(out, mapping.Write{Kind: mapping.Delete, Namespace: s.Namespace, Database: s.Database, Table: e.Name, ID: id, Source: s.Source + " key " + renderID(id) + " (extra edge)"})
	}
	return out
}

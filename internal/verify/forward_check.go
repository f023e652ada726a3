package verify

import (
	"context"
	"fmt"
	"maps"
	"slices"
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

// differences compares a source row (nil: absent) with its records on
// each server of the table: the record on the server its rule names must
// be the row's; a record on any other server is extra there.
func (c *fwdChecker) differences(cand candidate, src *srcState, recs serverRecords) []Difference {
	var out []Difference
	k := mapping.Canon(cand.id)
	home := c.f.home(cand.id)
	for _, r := range c.f.replicas() {
		var want map[string]any
		if src != nil {
			want = r.expect(&src.rec)
		}
		key := r.name + ":" + renderID(cand.id)
		for _, server := range c.f.servers() {
			got := recs[r.name][server][k]
			d := Difference{Table: r.name, Key: key, cand: cand}
			if c.f.rule != nil {
				d.Server = server
			}
			switch {
			case server != home:
				if got == nil {
					continue
				}
				d.Kind, d.misplaced = Extra, true
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
		if home == "" && want != nil {
			// The partition rule places the row on no server: the sync
			// stops on it; its error names the fix.
			out = append(out, Difference{Table: r.name, Key: key, Kind: Missing, cand: cand})
		}
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

// serverRecords are records read by key: by replica table, server and
// mapping.Canon of the id part.
type serverRecords map[string]map[string]map[string]map[string]any

// records reads each replica's records of cands on every server of the
// table.
func (c *fwdChecker) records(ctx context.Context, cands []candidate) (serverRecords, error) {
	out := serverRecords{}
	for _, r := range c.f.replicas() {
		out[r.name] = map[string]map[string]map[string]any{}
		for _, server := range c.f.servers() {
			got, err := c.recordsOn(ctx, server, r.name, cands)
			if err != nil {
				if c.f.rule != nil {
					err = fmt.Errorf("on server %s: %w", server, err)
				}
				return nil, fmt.Errorf("re-reading SurrealDB table %s by id: %w", r.name, err)
			}
			out[r.name][server] = got
		}
	}
	return out, nil
}

// recordsOn reads the records of cands in table on one server.
func (c *fwdChecker) recordsOn(ctx context.Context, server, table string, cands []candidate) (map[string]map[string]any, error) {
	got := map[string]map[string]any{}
	for start := 0; start < len(cands); start += lookupBatch {
		part := cands[start:min(start+lookupBatch, len(cands))]
		ids := make([]models.RecordID, len(part))
		for i, cand := range part {
			ids[i] = models.NewRecordID(table, cand.id)
		}
		var res *[]surrealdb.QueryResult[[]map[string]any]
		err := c.f.v.surrealOn(ctx, server, c.f.shape.Namespace, c.f.shape.Database, func(ctx context.Context, db *surrealdb.DB) (err error) {
			res, err = surrealdb.Query[[]map[string]any](ctx, db, "SELECT * FROM $ids", map[string]any{"ids": ids})
			return err
		})
		if err != nil && strings.Contains(err.Error(), "does not exist") {
			return got, nil // no table here: no records
		}
		if err != nil {
			return nil, err
		}
		for _, rec := range (*res)[0].Result {
			id := recordKey(rec)
			doc := maps.Clone(rec)
			doc["id"] = id
			got[mapping.Canon(id)] = doc
		}
	}
	return got, nil
}

// repair rewrites the records of the confirmed differences from the
// source rows as they are now, through the sync's own mapping and
// writes, in transactions tagged as pgsurreal's (the reverse direction
// does not copy them back). The sink routes each write to the server the
// table's rule names; a record found on another server is deleted there.
// It returns the keys it rewrote.
func (c *fwdChecker) repair(ctx context.Context, diffs []Difference, _ map[string]candidate) ([]candidate, error) {
	seen := map[string]bool{}
	var keys []candidate
	misplaced := map[string][]mapping.Write{}
	for _, d := range diffs {
		k := mapping.Canon(d.cand.id)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, d.cand)
		}
		if d.misplaced {
			misplaced[d.Server] = append(misplaced[d.Server], c.deleteOn(d.Table, d.cand.id))
		}
	}
	if err := c.removeMisplaced(ctx, misplaced); err != nil {
		return nil, fmt.Errorf("repairing %s: %w", c.f.table.QualifiedName(), err)
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
	if c.f.rule != nil {
		if err := s.Place(ctx, c.f.v.place); err != nil {
			return nil, err
		}
	}
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
		switch {
		case src == nil && c.f.home(cand.id) == "":
			// No server holds such a record rightly: removing it where it
			// was found was all there is to do.
		case src == nil:
			ws = append(ws, c.deletes(cand.id)...)
		default:
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

// removeMisplaced deletes records found on a server their rule does not
// name, on that server: through a sink of that server alone, since the
// placed sink would send the delete to the record's own server.
func (c *fwdChecker) removeMisplaced(ctx context.Context, byServer map[string][]mapping.Write) error {
	for _, server := range slices.Sorted(maps.Keys(byServer)) {
		cfg, err := c.f.v.serverConfig(server)
		if err != nil {
			return err
		}
		s, err := sink.Open(ctx, cfg, c.f.v.cfg.Sync.Slot, c.f.v.log.With("server", server))
		if err != nil {
			return fmt.Errorf("SurrealDB server %s: %w", server, err)
		}
		ws := byServer[server]
		for start := 0; start < len(ws) && err == nil; start += 500 {
			err = s.Repair(ctx, ws[start:min(start+500, len(ws))], "verify repair")
		}
		_ = s.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("deleting misplaced records on SurrealDB server %s: %w", server, err)
		}
		c.f.v.log.Info("deleted records found on the wrong SurrealDB server", "table", c.f.table.QualifiedName(), "server", server, "records", len(ws))
	}
	return nil
}

// deleteOn removes the record of id from table (the main table or an
// edge table).
func (c *fwdChecker) deleteOn(table string, id any) mapping.Write {
	s := c.f.shape
	return mapping.Write{Kind: mapping.Delete, Namespace: s.Namespace, Database: s.Database, Table: table, ID: id,
		Source: s.Source + " key " + renderID(id) + " (record on the wrong server)"}
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

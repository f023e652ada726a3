package verify

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/route"
)

// forward verifies a PostgreSQL table replicated into SurrealDB: each
// row, mapped as the sync maps it, against its record and edge records.
type forward struct {
	v      *verifier
	table  *cdc.Table
	shape  *mapping.Shape
	shapes map[string]*mapping.Shape
	// rule places the table's records on other SurrealDB servers; nil
	// for a table on the default server (servers.go).
	rule *route.Rule
}

// replica is one SurrealDB table a forward table is replicated into: the
// main table, or an edge table.
type replica struct {
	name string
	// expect returns a row's expected record in this table (with its id
	// part under "id"), or nil when the row has none here.
	expect func(r *mapping.Record) map[string]any
}

func (f *forward) replicas() []replica {
	out := []replica{{name: f.shape.Target, expect: func(r *mapping.Record) map[string]any { return r.Doc }}}
	for _, e := range f.shape.Edges {
		out = append(out, replica{name: e.Name, expect: func(r *mapping.Record) map[string]any { return r.Edges[e.Name] }})
	}
	return out
}

// srcRow is a source row mapped: its id part, key columns' text and
// record.
type srcRow struct {
	id   any
	keys []string
	rec  mapping.Record
}

// chunk is a run of source rows in key order; last is the id of its last
// row, up to which the replica's records belong to this chunk.
type chunk struct {
	rows []srcRow
	last any
}

// candidate is a key a chunk compare found different, to confirm.
type candidate struct {
	id   any
	keys []string // the key columns' text, nil for an extra record
}

// result is what one replica table's comparison found.
type result struct {
	records   int64
	chunks    int
	differing int
	cands     []candidate
}

func (f *forward) mapper() *mapping.Mapper {
	return mapping.NewMapper(f.shapes, func(oids []uint32) (map[uint32]*mapping.Type, error) {
		return mapping.LoadTypes(context.Background(), f.v.pool, oids)
	})
}

// columns lists the table's columns as the query selects them.
func (f *forward) columns() []string {
	cols := make([]string, len(f.table.Columns))
	for i, c := range f.table.Columns {
		cols[i] = postgres.Ident(c.Name)
	}
	return cols
}

// orderBy sorts rows as SurrealDB sorts their record ids: collatable
// keys (text) by bytes, others by their type's order.
func (f *forward) orderBy() string {
	parts := make([]string, len(f.shape.Key))
	for i, k := range f.shape.Key {
		parts[i] = postgres.Ident(k)
		if c, ok := f.table.Column(k); ok && collatable(c.TypeName) {
			parts[i] += ` COLLATE "C"`
		}
	}
	return strings.Join(parts, ", ")
}

func collatable(typeName string) bool {
	t := strings.ToLower(typeName)
	return t == "text" || t == "name" || t == "citext" || strings.HasPrefix(t, "character varying") || strings.HasPrefix(t, "varchar")
}

// verify compares the table with its replicas chunk by chunk, confirms
// what differs, and repairs it when asked.
func (f *forward) verify(ctx context.Context) (TableReport, error) {
	name := f.table.QualifiedName()
	reps := f.replicas()
	rep := TableReport{Table: name, Direction: "postgres"}
	for _, r := range reps {
		rep.Replica = strings.TrimPrefix(rep.Replica+", "+r.name, ", ")
	}
	if f.rule != nil {
		rep.Servers = f.rule.Servers
	}
	if f.v.o.SamplePercent < 100 {
		return f.sample(ctx, rep)
	}
	f.v.prog.Estimate(name, f.table.EstimatedRows)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	feeds := make([]chan chunk, len(reps))
	results := make([]result, len(reps))
	for i := range reps {
		feeds[i] = make(chan chunk, 2)
		p, err := f.reader(gctx, reps[i].name)
		if err != nil {
			for _, c := range feeds[:i] {
				close(c)
			}
			cancel()
			_ = g.Wait()
			return rep, err
		}
		g.Go(func() error {
			defer p.drain()
			res, err := compareReplica(feeds[i], p, reps[i])
			if s, ok := p.(*spread); ok {
				res.cands = append(res.cands, s.misplaced...)
			}
			results[i] = res
			return err
		})
	}
	var rows int64
	g.Go(func() error {
		defer func() {
			for _, c := range feeds {
				close(c)
			}
		}()
		n, err := f.read(gctx, feeds)
		rows = n
		return err
	})
	if err := g.Wait(); err != nil {
		return rep, err
	}
	f.v.prog.Done(name)
	rep.SourceRows = rows
	cands := map[string]candidate{}
	for _, r := range results {
		rep.ReplicaRows += r.records
		rep.Chunks += r.chunks
		rep.ChunksDiffering += r.differing
		for _, c := range r.cands {
			k := mapping.Canon(c.id)
			if prev, ok := cands[k]; !ok || prev.keys == nil {
				cands[k] = c
			}
		}
	}
	return f.settle(ctx, rep, cands)
}

// settle confirms the candidates and repairs them when asked.
func (f *forward) settle(ctx context.Context, rep TableReport, cands map[string]candidate) (TableReport, error) {
	if len(cands) == 0 {
		return rep, nil
	}
	c := f.checker()
	diffs, unsettled, err := c.confirm(ctx, slices.Collect(maps.Values(cands)))
	if err != nil {
		return rep, err
	}
	rep.Differences, rep.Unsettled = diffs, unsettled
	if !f.v.o.Repair || len(diffs) == 0 {
		return rep, nil
	}
	keys, err := c.repair(ctx, diffs, cands)
	if err != nil {
		return rep, err
	}
	rep.Repaired = len(keys)
	after, _, err := c.confirm(ctx, keys)
	if err != nil {
		return rep, err
	}
	rep.StillDifferent = len(after)
	return rep, nil
}

// read streams the table in key order inside one snapshot, maps each
// row and hands chunks to every replica's comparison.
func (f *forward) read(ctx context.Context, feeds []chan chunk) (int64, error) {
	name := f.table.QualifiedName()
	conn, err := postgres.ConnectOne(ctx, f.v.cfg.Postgres, mapping.SessionParams)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	sql := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(f.columns(), ", "), postgres.QualifiedIdent(f.table.Schema, f.table.Name), f.orderBy())
	rows, err := tx.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", name, err)
	}
	defer rows.Close()
	m := f.mapper()
	keyAt := f.keyIndexes()
	size := f.v.cfg.Verify.ChunkRows
	var n int64
	cur := chunk{rows: make([]srcRow, 0, size)}
	send := func() error {
		for _, c := range feeds {
			select {
			case c <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f.v.prog.Add(name, int64(len(cur.rows)))
		cur = chunk{rows: make([]srcRow, 0, size)}
		return nil
	}
	for rows.Next() {
		r := textRow(rows)
		rec, err := m.Record(f.shape, r)
		if err != nil {
			return n, fmt.Errorf("mapping %w (the sync cannot replicate this row either; see docs/mapping.md)", err)
		}
		id := rec.Doc["id"]
		keys := make([]string, len(keyAt))
		for i, at := range keyAt {
			keys[i] = r.Vals[at].Text
		}
		cur.rows = append(cur.rows, srcRow{id: id, keys: keys, rec: rec})
		cur.last = id
		n++
		if len(cur.rows) == size {
			if err := send(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(cur.rows) > 0 {
		return n, send()
	}
	return n, nil
}

// keyIndexes are the positions of the key columns in the selected row.
func (f *forward) keyIndexes() []int {
	out := make([]int, len(f.shape.Key))
	for i, k := range f.shape.Key {
		for j, c := range f.table.Columns {
			if c.Name == k {
				out[i] = j
			}
		}
	}
	return out
}

// textRow turns a text-format result row into a mapping.Row.
func textRow(rows pgx.Rows) mapping.Row {
	fds := rows.FieldDescriptions()
	r := mapping.Row{Names: make([]string, len(fds)), OIDs: make([]uint32, len(fds)), Vals: make(cdc.Tuple, len(fds))}
	for i, raw := range rows.RawValues() {
		r.Names[i], r.OIDs[i] = fds[i].Name, fds[i].DataTypeOID
		if raw == nil {
			r.Vals[i] = cdc.Datum{Kind: cdc.Null}
		} else {
			r.Vals[i] = cdc.Datum{Kind: cdc.Text, Text: string(raw)}
		}
	}
	return r
}

// seed keys the chunk checksums of one process.
var seed = maphash.MakeSeed()

// compareReplica pairs each chunk of source rows with the replica's
// records up to the chunk's last id, compares the two chunks'
// checksums, and compares row by row only when they differ. Records
// after the last chunk are extra.
func compareReplica(feed <-chan chunk, p recordReader, r replica) (result, error) {
	var res result
	var want, got []entry
	var buf []byte
	for c := range feed {
		want = want[:0]
		for i := range c.rows {
			if doc := r.expect(&c.rows[i].rec); doc != nil {
				buf = mapping.AppendCanon(buf[:0], doc)
				want = append(want, entry{id: c.rows[i].id, keys: c.rows[i].keys, hash: maphash.Bytes(seed, buf)})
			}
		}
		got = got[:0]
		for {
			rec, err := p.peek()
			if err != nil {
				return res, err
			}
			if rec == nil || compareIDs(recordKey(rec), c.last) > 0 {
				break
			}
			p.pop()
			got = append(got, actual(rec, &buf))
		}
		res.chunks++
		if checksum(want) == checksum(got) {
			continue
		}
		res.differing++
		res.cands = append(res.cands, pairUp(want, got)...)
	}
	// Whatever the replica holds past the last row is extra.
	for {
		got = got[:0]
		for len(got) < pageSize {
			rec, err := p.peek()
			if err != nil {
				return res, err
			}
			if rec == nil {
				break
			}
			p.pop()
			got = append(got, actual(rec, &buf))
		}
		if len(got) == 0 {
			break
		}
		res.chunks++
		res.differing++
		res.cands = append(res.cands, pairUp(nil, got)...)
	}
	res.records = p.count()
	return res, nil
}

// entry is one record, expected or read: its id part and the hash of
// its canonical form (mapping.AppendCanon, with the id part as "id").
type entry struct {
	id   any
	keys []string
	hash uint64
}

// actual hashes a record read from SurrealDB as its expected form is
// hashed: with the id part under "id". buf is reused between calls.
func actual(rec map[string]any, buf *[]byte) entry {
	id := recordKey(rec)
	*buf = mapping.AppendCanonDoc((*buf)[:0], rec, "id", id)
	return entry{id: id, hash: maphash.Bytes(seed, *buf)}
}

// checksum combines a chunk's record hashes in order.
func checksum(es []entry) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var b [8]byte
	for _, e := range es {
		binary.LittleEndian.PutUint64(b[:], e.hash)
		h.Write(b[:])
	}
	return h.Sum64()
}

// pairUp compares two chunks by key and returns the keys that differ.
func pairUp(want, got []entry) []candidate {
	byKey := make(map[string]*entry, len(got))
	for i := range got {
		byKey[mapping.Canon(got[i].id)] = &got[i]
	}
	var out []candidate
	for _, w := range want {
		k := mapping.Canon(w.id)
		g := byKey[k]
		if g == nil || g.hash != w.hash {
			out = append(out, candidate{id: w.id, keys: w.keys})
		}
		delete(byKey, k)
	}
	for _, g := range byKey {
		out = append(out, candidate{id: g.id})
	}
	return out
}

// fieldDiff names the fields whose values differ between two records.
func fieldDiff(want, got map[string]any) []string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok || mapping.Canon(g) != mapping.Canon(w) {
			out = append(out, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// shown renders a value for a report, shortened.
func shown(v any) string {
	s := mapping.Canon(v)
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

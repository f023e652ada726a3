package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/surrealdb/surrealdb.go/pkg/models"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/route"
)

// inputs computes the added parameters: one jsonb array per scan and per
// surreal.query() call, in parameter order.
func (s *Statement) inputs(ctx context.Context, q Querier, params []any, o QueryOptions) ([]any, []step, error) {
	if len(params) < s.nparams {
		return nil, nil, pgError("08P01", "the statement has %d parameters, %d were given", s.nparams, len(params))
	}
	params = params[:s.nparams]
	var steps []step
	mode, err := s.e.consistency(ctx, q, o)
	if err != nil {
		return nil, nil, err
	}
	var minLSN uint64
	if mode == ReadYourWrites {
		on := s.servers()
		w, err := s.e.waitForSync(ctx, on)
		if err != nil {
			return nil, nil, err
		}
		minLSN = w.lsn
		what := fmt.Sprintf("waited for the sync to apply WAL %s", lsnText(w.lsn))
		if s.e.cache == nil && (len(on) > 1 || (len(on) == 1 && on[0] != route.Default)) {
			what += " on servers " + serversText(on)
		}
		steps = append(steps, step{kind: "read_your_writes", what: what, took: w.took})
	}
	n := len(s.scans) + len(s.funcs) + len(s.aggs)
	out := make([]any, n)
	stepsOf := make([][]step, n)
	// q is one connection: the join-key queries take turns on it.
	lq := &lockedQuerier{q: q}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, pt := range s.funcs {
		g.Go(func() error {
			text, st, err := s.e.runPassthrough(gctx, pt, params, o, minLSN)
			out[pt.input-s.nparams-1], stepsOf[pt.input-s.nparams-1] = text, st
			return err
		})
	}
	for _, a := range s.aggs {
		g.Go(func() error {
			text, st, err := s.e.runAggregate(gctx, a, o, minLSN)
			out[a.input-s.nparams-1], stepsOf[a.input-s.nparams-1] = text, st
			return err
		})
	}
	// Scans run in waves: one that takes its keys from another scan
	// waits for that scan's rows.
	done := map[*scan]bool{}
	for len(done) < len(s.scans) {
		var wave []*scan
		for _, sc := range s.scans {
			if !done[sc] && (sc.bind == nil || sc.bind.from == nil || done[sc.bind.from]) {
				wave = append(wave, sc)
			}
		}
		if len(wave) == 0 {
			return nil, nil, fmt.Errorf("federation: scans wait on each other")
		}
		wg, wctx := errgroup.WithContext(gctx)
		wg.SetLimit(4)
		for _, sc := range wave {
			var src string
			if sc.bind != nil && sc.bind.from != nil {
				src, _ = out[sc.bind.from.input-s.nparams-1].(string)
			}
			wg.Go(func() error {
				text, st, err := s.e.runScan(wctx, lq, sc, params, o, minLSN, src)
				out[sc.input-s.nparams-1], stepsOf[sc.input-s.nparams-1] = text, st
				return err
			})
		}
		if err := wg.Wait(); err != nil {
			_ = g.Wait()
			return nil, nil, err
		}
		for _, sc := range wave {
			done[sc] = true
		}
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for _, st := range stepsOf {
		steps = append(steps, st...)
	}
	return out, steps, nil
}

// runScan reads one scan: bind-join keys from PostgreSQL first when
// planned, then SurrealDB (or the cache).
func (e *Engine) runScan(ctx context.Context, q *lockedQuerier, sc *scan, params []any, o QueryOptions, minLSN uint64, src string) (string, []step, error) {
	var steps []step
	var keys []any
	if sc.bind != nil && sc.bind.from != nil {
		raw, err := columnOf(src, sc.bind.fromCol)
		if err != nil {
			return "", nil, err
		}
		if len(raw) > e.o.Config.BindJoinCap {
			steps = append(steps, step{kind: "join keys from " + sc.bind.from.alias, rows: len(raw),
				notes: []string{fmt.Sprintf("more than federation.bind_join_cap (%d) keys: %s is read without them", e.o.Config.BindJoinCap, sc.table)}})
		} else if k, ok := sc.bindKeysText(raw); ok {
			keys = k
			e.metrics.pushdown.WithLabelValues("bind_join").Inc()
		}
	} else if sc.bind != nil && sc.bind.direct != nil {
		if k, ok := sc.bindKeys([]any{sc.bind.direct.resolve(params)}); ok {
			keys = k
			e.metrics.pushdown.WithLabelValues("bind_join").Inc()
		}
	} else if sc.bind != nil {
		t := timeNow()
		args := make([]any, len(sc.bind.keyParams))
		for i, p := range sc.bind.keyParams {
			args[i] = params[p-1]
		}
		raw, err := q.firstColumn(ctx, sc.bind.keySQL, args)
		if err != nil {
			return "", nil, err
		}
		st := step{kind: "PostgreSQL (join keys)", what: sc.bind.keySQL, params: positional(args), rows: len(raw), took: timeNow().Sub(t)}
		if len(raw) > e.o.Config.BindJoinCap {
			st.notes = append(st.notes, fmt.Sprintf("more than federation.bind_join_cap (%d) keys: %s is read without them", e.o.Config.BindJoinCap, sc.table))
		} else if k, ok := sc.bindKeys(raw); ok {
			keys = k
			e.metrics.pushdown.WithLabelValues("bind_join").Inc()
		} else {
			st.notes = append(st.notes, "keys of another type than "+sc.bind.col.Name+": not used")
		}
		steps = append(steps, st)
	}
	r, notes := sc.read(params, keys)
	limited := false
	for _, n := range notes {
		if strings.HasPrefix(n, "pushed: ") {
			kind := "predicate"
			if strings.HasPrefix(n, "pushed: LIMIT") {
				kind, limited = "limit", true
			}
			e.metrics.pushdown.WithLabelValues(kind).Inc()
		}
	}
	t := timeNow()
	convert := func(res any) (string, int, error) { return sc.rowsJSON(res) }
	reads, on, split := e.scanReads(sc, params, keys)
	text, rows, counts, hit, err := e.readAll(ctx, reads, o, minLSN, convert)
	if err != nil {
		return "", nil, err
	}
	if len(keys) > bindBatch {
		notes = append(notes, fmt.Sprintf("%d keys read in batches of %d", len(keys), bindBatch))
	}
	notes = append(notes, serverNotes(e.srv.of(sc.table.name), on, reads, counts, limited, split)...)
	st := step{kind: "SurrealDB", what: r.sql, params: r.vars, rows: rows, took: timeNow().Sub(t), notes: notes}
	st.notes = append(st.notes, cacheNote(e.cache != nil && !o.NoCache, hit))
	e.metrics.surrealRows.Add(float64(rows))
	return text, append(steps, st), nil
}

// bindBatch is the most join keys one SurrealDB read takes; more are
// read in several (concurrent) reads whose rows are put together.
const bindBatch = 1000

// scanReads are the SurrealDB reads of a scan: one per server that may
// hold its rows (every server of a partitioned table, unless the
// partition column's values are known) and, past bindBatch join keys,
// one per batch of keys. on lists the servers read; split says each
// server was asked for the keys of its own rows only.
func (e *Engine) scanReads(sc *scan, params, keys []any) (reads []surrealRead, on []string, split bool) {
	on = e.srv.narrow(sc, params)
	var byServer map[string][]any
	if keys != nil {
		if byServer = e.srv.keysByServer(sc, keys); byServer != nil {
			on = slices.DeleteFunc(slices.Clone(on), func(name string) bool { return len(byServer[name]) == 0 })
		}
	}
	for _, server := range on {
		mine := keys
		if byServer != nil {
			mine = byServer[server]
		}
		for i := 0; ; i += bindBatch {
			var chunk []any
			if mine != nil {
				chunk = mine[i:min(len(mine), i+bindBatch)]
			}
			r, _ := sc.read(params, chunk)
			r.server = server
			reads = append(reads, r)
			if i+bindBatch >= len(mine) {
				break
			}
		}
	}
	return reads, on, byServer != nil
}

// readAll runs reads (concurrently when there are several) and puts
// their rows together: the rows of a table on several servers, or of
// several batches of join keys. counts are the rows of each read.
func (e *Engine) readAll(ctx context.Context, reads []surrealRead, o QueryOptions, minLSN uint64, convert func(any) (string, int, error)) (string, int, []int, bool, error) {
	if len(reads) == 1 {
		text, n, hit, err := e.cached(ctx, reads[0], o, minLSN, convert)
		return text, n, []int{n}, hit, err
	}
	texts := make([]string, len(reads))
	counts := make([]int, len(reads))
	hits := make([]bool, len(reads))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, r := range reads {
		g.Go(func() error {
			var err error
			texts[i], counts[i], hits[i], err = e.cached(gctx, r, o, minLSN, convert)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return "", 0, nil, false, err
	}
	var b strings.Builder
	b.WriteByte('[')
	total, allHit := 0, len(reads) > 0
	for i, t := range texts {
		body := strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
		if body != "" {
			if total > 0 {
				b.WriteByte(',')
			}
			b.WriteString(body)
		}
		total += counts[i]
		allHit = allHit && hits[i]
	}
	b.WriteByte(']')
	return b.String(), total, counts, allHit, nil
}

// serverNotes say, for EXPLAIN, which servers a scan read and how many
// rows each gave, when that is not the default server alone.
func serverNotes(all, on []string, reads []surrealRead, counts []int, limited, split bool) []string {
	if len(all) == 1 && all[0] == route.Default {
		return nil
	}
	if len(all) == 1 {
		return []string{"on server " + all[0]}
	}
	rows := map[string]int{}
	for i, r := range reads {
		rows[r.server] += counts[i]
	}
	parts := make([]string, len(on))
	for i, name := range on {
		parts[i] = fmt.Sprintf("%s (%d rows)", name, rows[name])
	}
	head := fmt.Sprintf("partitioned over %s: read on %s", serversText(all), strings.Join(parts, ", "))
	if len(on) > 1 {
		head += ", rows concatenated"
	}
	out := []string{head}
	switch {
	case split:
		out = append(out, "join keys on the partition column: each looked up on its server")
	case len(on) < len(all):
		out = append(out, "servers narrowed by the partition column's values")
	}
	if limited {
		out = append(out, "LIMIT pushed to each server; PostgreSQL applies it to the union")
	}
	return out
}

// runPassthrough runs a surreal.query() call.
func (e *Engine) runPassthrough(ctx context.Context, pt *passthrough, params []any, o QueryOptions, minLSN uint64) (string, []step, error) {
	qv := pt.query.resolve(params)
	sql, ok := qv.(string)
	if !ok {
		return "", nil, pgError(codeInvalidParam, "surreal.query()'s SurrealQL parameter must be text, not %T", qv)
	}
	vars := map[string]any{}
	for _, a := range pt.args {
		v := a.resolve(params)
		if t, ok := v.(time.Time); ok {
			// the SDK sends a plain time.Time without its fraction of a second
			v = models.CustomDateTime{Time: t}
		}
		vars[a.name] = v
	}
	r := surrealRead{sql: sql, vars: vars}
	t := timeNow()
	text, rows, hit, err := e.cached(ctx, r, o, minLSN, func(res any) (string, int, error) { return pt.rowsJSON(res) })
	if err != nil {
		return "", nil, err
	}
	st := step{kind: "SurrealDB (surreal.query)", what: sql, params: vars, rows: rows, took: timeNow().Sub(t), notes: []string{cacheNote(false, hit)}}
	e.metrics.surrealRows.Add(float64(rows))
	return text, []step{st}, nil
}

// runAggregate has SurrealDB compute a whole aggregate.
func (e *Engine) runAggregate(ctx context.Context, a *aggScan, o QueryOptions, minLSN uint64) (string, []step, error) {
	r := a.read()
	r.server = e.srv.of(a.table.name)[0] // one server: planAggregate leaves partitioned tables alone
	e.metrics.pushdown.WithLabelValues("aggregate").Inc()
	t := timeNow()
	text, rows, hit, err := e.cached(ctx, r, o, minLSN, a.rowsJSON)
	if err != nil {
		return "", nil, err
	}
	notes := []string{"pushed: the whole aggregate over " + a.table.String()}
	if r.server != route.Default {
		notes = append(notes, "on server "+r.server)
	}
	st := step{kind: "SurrealDB (aggregate)", what: r.sql, params: r.vars, rows: rows, took: timeNow().Sub(t),
		notes: append(notes, cacheNote(e.cache != nil && !o.NoCache, hit))}
	e.metrics.surrealRows.Add(float64(rows))
	return text, []step{st}, nil
}

// rowsJSON turns a surreal.query() result into rows.
func (pt *passthrough) rowsJSON(result any) (string, int, error) {
	var items []any
	switch x := result.(type) {
	case []any:
		items = x
	case nil:
	default:
		items = []any{x}
	}
	var w rowsWriter
	for _, it := range items {
		obj, isObj := it.(map[string]any)
		for _, c := range pt.cols {
			var v any
			switch {
			case isObj:
				v = obj[c.name]
			case len(pt.cols) == 1:
				v = it
			default:
				return "", 0, pgError("42804", "surreal.query() returned a %s where an object with fields %s was expected", describeValue(it), colNames(pt.cols))
			}
			out, err := mapping.ConvertValue(c.typ, v)
			if err != nil {
				return "", 0, pgError("22000", "surreal.query() column %s (%s): %v", c.name, c.typ, err)
			}
			w.field(c.name, out, c.typ == "jsonb" || c.typ == "json")
		}
		w.endRow()
	}
	return w.String(), len(items), nil
}

func describeValue(v any) string { return fmt.Sprintf("%T", v) }

func colNames(cols []colDef) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// consistency is the request's mode, else the session's setting, else
// the configured default.
func (e *Engine) consistency(ctx context.Context, q Querier, o QueryOptions) (string, error) {
	mode := o.Consistency
	if mode == "" && q != nil && q != Querier(e.o.PG) {
		var v *string
		if err := q.QueryRow(ctx, "SELECT current_setting('pgsurreal.consistency', true)").Scan(&v); err != nil {
			return "", err
		}
		if v != nil {
			mode = *v
		}
	}
	if mode == "" {
		mode = e.o.Config.Consistency
	}
	if mode != Eventual && mode != ReadYourWrites {
		return "", pgError(codeInvalidParam, "consistency %q is not eventual or read_your_writes (SET pgsurreal.consistency = read_your_writes)", mode)
	}
	return mode, nil
}

// firstColumn returns the first column of every row.
func firstColumn(ctx context.Context, q Querier, sql string, args []any) ([]any, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, v[0])
	}
	return out, rows.Err()
}

// collect runs a statement and reads its whole result.
func collect(ctx context.Context, q Querier, sql string, args []any) (*Result, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := typeMap(rows)
	res := &Result{}
	for _, f := range rows.FieldDescriptions() {
		name := fmt.Sprint(f.DataTypeOID)
		if t, ok := m.TypeForOID(f.DataTypeOID); ok {
			name = t.Name
		}
		res.Columns = append(res.Columns, Column{Name: f.Name, Type: name, OID: f.DataTypeOID})
	}
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.Tag = rows.CommandTag().String()
	return res, nil
}

func typeMap(rows pgx.Rows) *pgtype.Map {
	if c := rows.Conn(); c != nil {
		return c.TypeMap()
	}
	return pgtype.NewMap()
}

// lockedQuerier serialises the use of one connection.
type lockedQuerier struct {
	mu gosync.Mutex
	q  Querier
}

// firstColumn runs a query and returns its first column.
func (l *lockedQuerier) firstColumn(ctx context.Context, sql string, args []any) ([]any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return firstColumn(ctx, l.q, sql, args)
}

// columnOf returns one column of a scan's rows (jsonb text): strings,
// nil for NULL.
func columnOf(rowsText, col string) ([]any, error) {
	var rows []map[string]any
	if err := json.Unmarshal([]byte(rowsText), &rows); err != nil {
		return nil, fmt.Errorf("federation: reading join keys: %w", err)
	}
	out := make([]any, 0, len(rows))
	seen := map[any]bool{}
	for _, r := range rows {
		v := r[col]
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}

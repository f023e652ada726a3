package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"
	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/mapping"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/verify"
)

// pageSize is the records one SurrealDB read takes, as verify's pager.
const pageSize = 2000

// measurement is one timed pass over the table.
type measurement struct {
	harness.Rate
	// The servers' CPU time over the measurement (0 for servers named
	// by URL): with this process's, where the wall time went.
	SurrealCPU  float64 `json:"surrealdb_server_cpu_seconds"`
	PostgresCPU float64 `json:"postgres_server_cpu_seconds"`
	// Records were read from SurrealDB.
	Records     int64          `json:"surrealdb_records"`
	Differences int            `json:"differences"`
	Kinds       map[string]int `json:"differences_by_kind,omitempty"`
	// Chunks and ChunksDiffering are verify's.
	Chunks          int `json:"chunks,omitempty"`
	ChunksDiffering int `json:"chunks_differing,omitempty"`
	// StreamSeconds is verify's streamed compare, CheckSeconds the rest
	// (re-checking differences by key), as verify's progress reports
	// (about once a second) tell them apart.
	StreamSeconds float64 `json:"streamed_compare_seconds,omitempty"`
	CheckSeconds  float64 `json:"recheck_seconds,omitempty"`
	// FetchSeconds and CompareSeconds split the naive compare.
	FetchSeconds   float64  `json:"fetch_seconds,omitempty"`
	CompareSeconds float64  `json:"compare_seconds,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// contenders runs the measurements against one copy of the table.
type contenders struct {
	cfg  config.Config // verify's: both databases, sync.include, verify
	log  *slog.Logger
	pids serverPIDs
}

// meter takes the clocks at the start of a measurement.
type meter struct {
	pids          serverPIDs
	start         time.Time
	cpu, pg, surr time.Duration
}

func (c *contenders) meter() meter {
	runtime.GC() // no measurement pays for the garbage of the one before
	pg, sur := c.pids.cpu()
	return meter{pids: c.pids, start: time.Now(), cpu: harness.CPUTime(), pg: pg, surr: sur}
}

func (m meter) stop(rows int64) measurement {
	d, cpu := time.Since(m.start), harness.CPUTime()-m.cpu
	pg, sur := m.pids.cpu()
	return measurement{Rate: harness.NewRate(rows, d, cpu),
		PostgresCPU: harness.Round((pg - m.pg).Seconds(), 2), SurrealCPU: harness.Round((sur - m.surr).Seconds(), 2)}
}

// verify runs pgsurreal's verify of the table.
func (c *contenders) verify(ctx context.Context) (measurement, error) {
	m := c.meter()
	// verify's progress, about once a second, tells when the streamed
	// compare ended and the re-check by key began.
	var streamed time.Time
	progress := func(ts []verify.TableProgress, _ bool) {
		if len(ts) == 1 && ts[0].Done && streamed.IsZero() {
			streamed = time.Now()
		}
	}
	rep, err := verify.Run(ctx, verify.Options{Config: c.cfg, Tables: []string{pgTable}, Log: c.log, Progress: progress})
	if err != nil {
		return measurement{}, fmt.Errorf("verify: %w", err)
	}
	if len(rep.Tables) != 1 {
		return measurement{}, fmt.Errorf("verify reported %d tables, want 1", len(rep.Tables))
	}
	t := rep.Tables[0]
	out := m.stop(t.SourceRows)
	if !streamed.IsZero() {
		out.StreamSeconds = harness.Round(streamed.Sub(m.start).Seconds(), 1)
		out.CheckSeconds = harness.Round(max(0, out.Seconds-out.StreamSeconds), 1)
	}
	out.Records, out.Differences, out.Chunks, out.ChunksDiffering, out.Notes = t.ReplicaRows, rep.Differences(), t.Chunks, t.ChunksDiffering, rep.Notes
	out.Kinds = map[string]int{}
	for _, d := range t.Differences {
		out.Kinds[d.Kind]++
	}
	return out, nil
}

// readBoth is baseline (a), the floor under a streamed compare: every
// row of the table read from PostgreSQL (verify's query, text format) and
// every record read from SurrealDB (verify's paging), at the same time,
// and discarded.
func (c *contenders) readBoth(ctx context.Context) (measurement, error) {
	m := c.meter()
	var rows, recs int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		conn, err := postgres.ConnectOne(gctx, c.cfg.Postgres, mapping.SessionParams)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(gctx))
		rs, err := conn.Query(gctx, selectSQL(), pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			return fmt.Errorf("reading %s: %w", pgTable, err)
		}
		defer rs.Close()
		for rs.Next() {
			_ = rs.RawValues()
			rows++
		}
		return rs.Err()
	})
	g.Go(func() error {
		var err error
		recs, err = c.pageAll(gctx, func([]map[string]any) {})
		return err
	})
	if err := g.Wait(); err != nil {
		return measurement{}, err
	}
	out := m.stop(rows)
	out.Records = recs
	return out, nil
}

// naive is baseline (b): both sides fetched whole into memory at the
// same time (rows mapped through the mapping, as verify and the sync map
// them), then compared by id.
func (c *contenders) naive(ctx context.Context) (measurement, error) {
	m := c.meter()
	var docs, recs []map[string]any
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		docs, err = c.fetchRows(gctx)
		return err
	})
	g.Go(func() error {
		_, err := c.pageAll(gctx, func(page []map[string]any) { recs = append(recs, page...) })
		return err
	})
	if err := g.Wait(); err != nil {
		return measurement{}, err
	}
	fetched := time.Now()
	kinds := compareAll(docs, recs)
	out := m.stop(int64(len(docs)))
	out.Records, out.Kinds = int64(len(recs)), kinds
	for _, n := range kinds {
		out.Differences += n
	}
	out.FetchSeconds = harness.Round(fetched.Sub(m.start).Seconds(), 2)
	out.CompareSeconds = harness.Round(time.Since(fetched).Seconds(), 2)
	return out, nil
}

// fetchRows reads the table's rows mapped to documents (with their id).
func (c *contenders) fetchRows(ctx context.Context) ([]map[string]any, error) {
	pool, err := postgres.Connect(ctx, c.cfg.Postgres)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	_, shapes, err := mapping.ForwardShapes(ctx, pool, c.cfg.Sync)
	if err != nil {
		return nil, err
	}
	shape := shapes[pgTable]
	if shape == nil {
		return nil, fmt.Errorf("sync.include %v does not select %s", c.cfg.Sync.Include, pgTable)
	}
	mp := mapping.NewMapper(shapes, func(oids []uint32) (map[uint32]*mapping.Type, error) {
		return mapping.LoadTypes(ctx, pool, oids)
	})
	conn, err := postgres.ConnectOne(ctx, c.cfg.Postgres, mapping.SessionParams)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rs, err := conn.Query(ctx, selectSQL(), pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pgTable, err)
	}
	defer rs.Close()
	var docs []map[string]any
	for rs.Next() {
		rec, err := mp.Record(shape, textRow(rs))
		if err != nil {
			return nil, err
		}
		docs = append(docs, rec.Doc)
	}
	return docs, rs.Err()
}

// compareAll compares documents and records by id, as mapping.Canon
// renders them, and counts the differences by kind.
func compareAll(docs, recs []map[string]any) map[string]int {
	want := make(map[string]string, len(docs))
	for _, d := range docs {
		want[mapping.Canon(d["id"])] = mapping.Canon(d)
	}
	kinds := map[string]int{verify.Missing: 0, verify.Extra: 0, verify.Different: 0}
	for _, r := range recs {
		id := recordKey(r)
		doc := maps.Clone(r)
		doc["id"] = id
		k := mapping.Canon(id)
		w, ok := want[k]
		switch {
		case !ok:
			kinds[verify.Extra]++
		case w != mapping.Canon(doc):
			kinds[verify.Different]++
		}
		delete(want, k)
	}
	kinds[verify.Missing] = len(want)
	return kinds
}

// pageAll reads the SurrealDB table in record id order exactly as
// verify's pager does (a first page, then record ranges after the last
// id read), on a connection of its own, and hands each page to each.
func (c *contenders) pageAll(ctx context.Context, each func([]map[string]any)) (int64, error) {
	cl, err := surreal.Connect(ctx, c.cfg.Surreal, nil)
	if err != nil {
		return 0, err
	}
	defer cl.Close(context.WithoutCancel(ctx))
	first := "SELECT * FROM " + surreal.Ident(surrealTable) + " LIMIT $n"
	next := "SELECT * FROM type::record($tb, $after>..) LIMIT $n"
	var after any
	var n int64
	for {
		q, vars := first, map[string]any{"n": pageSize}
		if after != nil {
			q, vars = next, map[string]any{"n": pageSize, "tb": surrealTable, "after": after}
		}
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, q, vars)
		if err != nil {
			return n, fmt.Errorf("reading SurrealDB table %s: %w", surrealTable, err)
		}
		if e := (*res)[0].Error; e != nil {
			return n, fmt.Errorf("reading SurrealDB table %s: %w", surrealTable, e)
		}
		recs := (*res)[0].Result
		n += int64(len(recs))
		each(recs)
		if len(recs) < pageSize {
			return n, nil
		}
		after = recordKey(recs[len(recs)-1])
	}
}

// recordKey is the id part of a record's id.
func recordKey(rec map[string]any) any {
	switch id := rec["id"].(type) {
	case models.RecordID:
		return id.ID
	case *models.RecordID:
		return id.ID
	}
	return nil
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

package verify

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"math/big"
	"strings"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// pageSize is the records one read of a SurrealDB table takes.
const pageSize = 2000

// pager reads a SurrealDB table in record id order, a page at a time, on
// a connection of its own, one page ahead of its reader. Each page after
// the first is a record range starting after the last id read: a range
// scan, where WHERE id > $last would scan the whole table in SurrealDB
// 3.0.
type pager struct {
	pages chan page
	buf   []map[string]any
	err   error
	// Records counts what has been read.
	records int64
}

type page struct {
	recs []map[string]any
	err  error
}

// newPager starts reading table (in ns/db when they are set) until ctx
// ends or the table is read.
func newPager(ctx context.Context, cfg config.Surreal, ns, db, table string) (*pager, error) {
	cl, err := surreal.Connect(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	if ns != "" || db != "" {
		if err := cl.DB.Use(ctx, or(ns, cfg.Namespace), or(db, cfg.Database)); err != nil {
			_ = cl.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("SurrealDB: using namespace %s database %s: %w", or(ns, cfg.Namespace), or(db, cfg.Database), err)
		}
	}
	p := &pager{pages: make(chan page, 1)}
	go p.read(ctx, cl, table)
	return p, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *pager) read(ctx context.Context, cl *surreal.Client, table string) {
	defer close(p.pages)
	defer cl.Close(context.WithoutCancel(ctx))
	first := "SELECT * FROM " + surreal.Ident(table) + " LIMIT $n"
	next := "SELECT * FROM type::record($tb, $after>..) LIMIT $n"
	var after any
	for {
		q, vars := first, map[string]any{"n": pageSize}
		if after != nil {
			q, vars = next, map[string]any{"n": pageSize, "tb": table, "after": after}
		}
		res, err := surrealdb.Query[[]map[string]any](ctx, cl.DB, q, vars)
		if err != nil && after == nil && strings.Contains(err.Error(), "does not exist") {
			return // no table: no records
		}
		if err != nil {
			p.pages <- page{err: fmt.Errorf("reading SurrealDB table %s: %w", table, err)}
			return
		}
		recs := (*res)[0].Result
		if len(recs) == 0 {
			return
		}
		select {
		case p.pages <- page{recs: recs}:
		case <-ctx.Done():
			return
		}
		if len(recs) < pageSize {
			return
		}
		after = recordKey(recs[len(recs)-1])
	}
}

// peek returns the next record without taking it; nil at the end.
func (p *pager) peek() (map[string]any, error) {
	for len(p.buf) == 0 {
		if p.err != nil {
			return nil, p.err
		}
		pg, ok := <-p.pages
		if !ok {
			return nil, nil
		}
		if pg.err != nil {
			p.err = pg.err
			return nil, pg.err
		}
		p.buf = pg.recs
	}
	return p.buf[0], nil
}

func (p *pager) pop() {
	p.buf = p.buf[1:]
	p.records++
}

func (p *pager) count() int64 { return p.records }

// drain stops reading: the reader goroutine ends with its context.
func (p *pager) drain() {
	for range p.pages {
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

// compareIDs orders id parts as SurrealDB orders record ids: numbers,
// then strings (byte order), then UUIDs, then arrays (element by
// element). The order only has to agree with the table scans for the
// merge to pair rows; a disagreement costs re-checks, never a wrong
// result, since every difference is confirmed by key.
func compareIDs(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case 1:
		if ia, ok := a.(int64); ok {
			if ib, ok := b.(int64); ok {
				return cmp.Compare(ia, ib)
			}
		}
		if ia, ok := integer(a); ok {
			if ib, ok := integer(b); ok {
				return cmp.Compare(ia, ib)
			}
		}
		return number(a).Cmp(number(b))
	case 2:
		return strings.Compare(a.(string), b.(string))
	case 3:
		ua, ub := a.(models.UUID), b.(models.UUID)
		return bytes.Compare(ua.UUID[:], ub.UUID[:])
	case 4:
		xa, xb := a.([]any), b.([]any)
		for i := range min(len(xa), len(xb)) {
			if c := compareIDs(xa[i], xb[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(xa), len(xb))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// integer is an integer id part that fits int64: ids mapped from
// PostgreSQL are int64, ids decoded from SurrealDB's CBOR uint64.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case int:
		return int64(x), true
	}
	return 0, false
}

func rank(v any) int {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return 1
	case string:
		return 2
	case models.UUID:
		return 3
	case []any:
		return 4
	}
	return 5
}

func number(v any) *big.Float {
	f := new(big.Float)
	switch x := v.(type) {
	case int:
		f.SetInt64(int64(x))
	case int8:
		f.SetInt64(int64(x))
	case int16:
		f.SetInt64(int64(x))
	case int32:
		f.SetInt64(int64(x))
	case int64:
		f.SetInt64(x)
	case uint:
		f.SetUint64(uint64(x))
	case uint8:
		f.SetUint64(uint64(x))
	case uint16:
		f.SetUint64(uint64(x))
	case uint32:
		f.SetUint64(uint64(x))
	case uint64:
		f.SetUint64(x)
	case float32:
		f.SetFloat64(float64(x))
	case float64:
		f.SetFloat64(x)
	}
	return f
}

// Package source reads SurrealDB changefeeds: the changes of a set of
// tables, merged into SurrealDB transactions in versionstamp order.
//
// SurrealDB keeps one changefeed per table (DEFINE/ALTER TABLE ...
// CHANGEFEED). A transaction that writes several tables leaves an entry
// with the same versionstamp in each of their feeds, so a reader that
// wants whole transactions reads every feed and merges them. Read does
// that, and returns only what is complete: when a feed returned a full
// page, entries after that page's last versionstamp may still be missing
// from it, so nothing after that point is returned yet.
package source

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// Op is the kind of a change.
type Op int

const (
	// Update is a record's new content (create, update, upsert, insert).
	Update Op = iota
	// Delete removes a record.
	Delete
)

func (o Op) String() string {
	if o == Delete {
		return "delete"
	}
	return "update"
}

// Change is one record change.
type Change struct {
	Table string
	Op    Op
	// ID is the record id.
	ID models.RecordID
	// Record is the record's content after an Update (id included).
	Record map[string]any
}

// Txn is the changes of one SurrealDB transaction to the tables read, in
// the order of the tables given to Read.
type Txn struct {
	Versionstamp uint64
	Changes      []Change
	// Tables lists every table the transaction touched, including ones
	// whose entries held only definitions.
	Tables []string
}

// Time is the wall-clock time SurrealDB encodes in a versionstamp: its
// upper 48 bits are milliseconds since the Unix epoch (SurrealDB 3).
func Time(vs uint64) time.Time { return time.UnixMilli(int64(vs >> 16)) }

// Reader reads the changefeeds of a set of tables.
type Reader struct {
	cl     *surreal.Client
	tables []string
	limit  int
}

// NewReader reads tables through cl, at most limit entries per table and
// request.
func NewReader(cl *surreal.Client, tables []string, limit int) *Reader {
	return &Reader{cl: cl, tables: tables, limit: limit}
}

// Read returns the transactions after since (exclusive), in versionstamp
// order, and whether more may be waiting (some feed returned a full page).
func (r *Reader) Read(ctx context.Context, since uint64) ([]Txn, bool, error) {
	var q strings.Builder
	for _, t := range r.tables {
		// SINCE takes a literal only (no parameter); it is a number.
		fmt.Fprintf(&q, "SHOW CHANGES FOR TABLE %s SINCE %d LIMIT %d;\n", surreal.Ident(t), since+1, r.limit)
	}
	res, err := surrealdb.Query[[]entry](ctx, r.cl.DB, q.String(), nil)
	if err != nil {
		return nil, false, fmt.Errorf("reading changefeeds: %w", err)
	}
	horizon := uint64(1<<64 - 1)
	more := false
	byVS := map[uint64]*Txn{}
	for i, qr := range *res {
		if qr.Error != nil {
			return nil, false, fmt.Errorf("reading the changefeed of %s: %s", r.tables[i], qr.Error.Message)
		}
		if len(qr.Result) >= r.limit {
			more = true
			horizon = min(horizon, qr.Result[len(qr.Result)-1].vs())
		}
		for _, e := range qr.Result {
			vs := e.vs()
			t := byVS[vs]
			if t == nil {
				t = &Txn{Versionstamp: vs}
				byVS[vs] = t
			}
			t.Tables = append(t.Tables, r.tables[i])
			for _, c := range e.Changes {
				ch, ok, err := decode(r.tables[i], c)
				if err != nil {
					return nil, false, fmt.Errorf("changefeed of %s at versionstamp %d: %w", r.tables[i], vs, err)
				}
				if ok {
					t.Changes = append(t.Changes, ch)
				}
			}
		}
	}
	out := make([]Txn, 0, len(byVS))
	for vs, t := range byVS {
		if vs <= horizon {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b Txn) int {
		switch {
		case a.Versionstamp < b.Versionstamp:
			return -1
		case a.Versionstamp > b.Versionstamp:
			return 1
		}
		return 0
	})
	return out, more, nil
}

type entry struct {
	Versionstamp any              `json:"versionstamp"`
	Changes      []map[string]any `json:"changes"`
}

func (e entry) vs() uint64 {
	v, _ := Versionstamp(e.Versionstamp)
	return v
}

// Versionstamp reads a versionstamp as the SDK decodes it (CBOR unsigned
// integer, or a string or big integer from other encodings).
func Versionstamp(v any) (uint64, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case int64:
		if x >= 0 {
			return uint64(x), nil
		}
	case string:
		return strconv.ParseUint(x, 10, 64)
	case *big.Int:
		if x.IsUint64() {
			return x.Uint64(), nil
		}
	}
	return 0, fmt.Errorf("unexpected versionstamp %v (%T)", v, v)
}

// decode turns one changefeed change into a Change; definitions (ok false)
// are skipped. The change's table is its record's: a feed can hold
// changes to other tables' records (deleting a record deletes its graph
// edges, and the node's feed records those deletions too).
func decode(table string, c map[string]any) (Change, bool, error) {
	if u, ok := c["update"]; ok {
		rec, ok := u.(map[string]any)
		if !ok {
			return Change{}, false, fmt.Errorf("update is %T, not a record", u)
		}
		id, err := recordID(rec["id"])
		if err != nil {
			return Change{}, false, err
		}
		return Change{Table: or(id.Table, table), Op: Update, ID: id, Record: rec}, true, nil
	}
	if d, ok := c["delete"]; ok {
		m, ok := d.(map[string]any)
		if !ok {
			return Change{}, false, fmt.Errorf("delete is %T, not a record", d)
		}
		id, err := recordID(m["id"])
		if err != nil {
			return Change{}, false, err
		}
		return Change{Table: or(id.Table, table), Op: Delete, ID: id}, true, nil
	}
	for k := range c {
		if strings.HasPrefix(k, "define_") {
			return Change{}, false, nil
		}
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return Change{}, false, fmt.Errorf("unknown change kind %v", keys)
}

func recordID(v any) (models.RecordID, error) {
	switch x := v.(type) {
	case models.RecordID:
		return x, nil
	case *models.RecordID:
		if x != nil {
			return *x, nil
		}
	}
	return models.RecordID{}, fmt.Errorf("record id is %T, not a record id", v)
}

// ErrNoMarker is returned by Now when the marker's change is not found.
var ErrNoMarker = errors.New("the marker write did not appear in its changefeed")

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

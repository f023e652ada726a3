// Package source reads SurrealDB changefeeds: the changes of a set of
// tables, as whole SurrealDB transactions in versionstamp order.
//
// SurrealDB keeps a changefeed per table (DEFINE/ALTER TABLE ...
// CHANGEFEED); SHOW CHANGES FOR DATABASE reads them all as one feed, an
// entry per transaction. Read returns only what is complete: entries
// younger than Reader.Settle may still be missing an earlier transaction
// (SurrealDB fixes a versionstamp before the commit is visible).
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

// Txn is the changes of one SurrealDB transaction to the reader's tables,
// in the order SurrealDB recorded them.
type Txn struct {
	Versionstamp uint64
	Changes      []Change
	// Defines says the transaction changed definitions (DEFINE/ALTER/REMOVE
	// TABLE or FIELD) of a table with a changefeed.
	Defines bool
	// Tables lists every table with a changefeed whose records the
	// transaction changed.
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
	// Settle is how old, by SurrealDB's clock, a transaction must be to be
	// returned: SurrealDB fixes a versionstamp before the commit is
	// visible, so the newest entries of a feed may still be missing an
	// earlier transaction that commits a moment later.
	Settle time.Duration
}

// NewReader reads tables through cl, at most limit entries per table and
// request, returning transactions older than one second.
func NewReader(cl *surreal.Client, tables []string, limit int) *Reader {
	return &Reader{cl: cl, tables: tables, limit: limit, Settle: time.Second}
}

// Read returns the transactions after since (exclusive), in versionstamp
// order, and whether more may be waiting. It reads the database's feed
// (SHOW CHANGES FOR DATABASE: one entry per transaction, with the changes
// to every table that keeps a changefeed), so every transaction comes
// whole and the position moves on even past transactions that touched no
// table of interest. Changes to other tables than the reader's are left
// out of Changes but named in Tables.
func (r *Reader) Read(ctx context.Context, since uint64) ([]Txn, bool, error) {
	// SINCE takes a literal only (no parameter); it is a number.
	q := fmt.Sprintf("RETURN time::now();\nSHOW CHANGES FOR DATABASE SINCE %d LIMIT %d;\n", since+1, r.limit)
	res, err := surrealdb.Query[any](ctx, r.cl.DB, q, nil)
	if err != nil {
		return nil, false, fmt.Errorf("reading changefeeds: %w", err)
	}
	now, ok := (*res)[0].Result.(models.CustomDateTime)
	if !ok {
		return nil, false, fmt.Errorf("reading changefeeds: time::now() gave %T", (*res)[0].Result)
	}
	qr := (*res)[1]
	if qr.Error != nil {
		return nil, false, fmt.Errorf("reading changefeeds: %s", qr.Error.Message)
	}
	var entries []entry
	if err := decodeInto(qr.Result, &entries); err != nil {
		return nil, false, fmt.Errorf("reading changefeeds: %w", err)
	}
	// Only transactions older than Settle (versionstamps carry their time
	// in milliseconds, see Time) are complete.
	horizon := uint64(max(0, now.Time.Add(-r.Settle).UnixMilli())) << 16
	// SurrealDB 3.0 caps a read at about 1,000 entries whatever the LIMIT
	// (and returns a few fewer than asked): a page near the cap is full.
	more := len(entries) >= min(r.limit, 1000)*9/10
	want := map[string]bool{}
	for _, t := range r.tables {
		want[t] = true
	}
	out := make([]Txn, 0, len(entries))
	for _, e := range entries {
		vs := e.vs()
		if vs > horizon {
			more = false // the rest is too young; read again after a pause
			break
		}
		t := Txn{Versionstamp: vs}
		for _, c := range e.Changes {
			if isDefine(c) {
				t.Defines = true
				continue
			}
			ch, ok, err := decode(c)
			if err != nil {
				return nil, false, fmt.Errorf("changefeed at versionstamp %d: %w", vs, err)
			}
			if !ok {
				continue
			}
			if !slices.Contains(t.Tables, ch.Table) {
				t.Tables = append(t.Tables, ch.Table)
			}
			if want[ch.Table] {
				t.Changes = append(t.Changes, ch)
			}
		}
		out = append(out, t)
	}
	return out, more, nil
}

type entry struct {
	Versionstamp any
	Changes      []map[string]any
}

// decodeInto reads SHOW CHANGES entries from their decoded form.
func decodeInto(v any, out *[]entry) error {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("entries are %T, not a list", v)
	}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return fmt.Errorf("an entry is %T, not an object", item)
		}
		e := entry{Versionstamp: m["versionstamp"]}
		changes, _ := m["changes"].([]any)
		for _, c := range changes {
			cm, ok := c.(map[string]any)
			if !ok {
				return fmt.Errorf("a change is %T, not an object", c)
			}
			e.Changes = append(e.Changes, cm)
		}
		*out = append(*out, e)
	}
	return nil
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
// are skipped. The change's table is its record's.
func decode(c map[string]any) (Change, bool, error) {
	if u, ok := c["update"]; ok {
		rec, ok := u.(map[string]any)
		if !ok {
			return Change{}, false, fmt.Errorf("update is %T, not a record", u)
		}
		id, err := recordID(rec["id"])
		if err != nil {
			return Change{}, false, err
		}
		return Change{Table: id.Table, Op: Update, ID: id, Record: rec}, true, nil
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
		return Change{Table: id.Table, Op: Delete, ID: id}, true, nil
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

// isDefine recognises a definition change (define_table, define_field...).
func isDefine(c map[string]any) bool {
	for k := range c {
		if strings.HasPrefix(k, "define_") {
			return true
		}
	}
	return false
}

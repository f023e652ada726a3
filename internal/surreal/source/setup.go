package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	gosync "sync"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/surreal"
)

// MarkerTable holds pgsurreal's marker records, whose changefeed tells
// the versionstamp of a moment (see Now).
const MarkerTable = "_pgsurreal_marker"

// duration renders d as a SurrealQL duration literal (whole seconds, at
// least one).
func duration(d time.Duration) string {
	return fmt.Sprintf("%ds", max(1, int64(d/time.Second)))
}

// Enable makes sure table exists and keeps a changefeed for retention:
// a missing table is defined (schemaless), an existing one keeps its
// definition and gets the changefeed (ALTER TABLE).
func Enable(ctx context.Context, cl *surreal.Client, table string, retention time.Duration) error {
	t := surreal.Ident(table)
	q := fmt.Sprintf("DEFINE TABLE IF NOT EXISTS %s CHANGEFEED %s; ALTER TABLE %s CHANGEFEED %s;", t, duration(retention), t, duration(retention))
	if _, err := surrealdb.Query[any](ctx, cl.DB, q, nil); err != nil {
		return fmt.Errorf("enabling the changefeed of SurrealDB table %s: %w", table, err)
	}
	return nil
}

// Now returns a versionstamp V such that every transaction committed
// before the call has a versionstamp below or equal to V and every one
// committed after it a greater one. It writes a marker record and finds
// that write in the marker table's changefeed.
func Now(ctx context.Context, cl *surreal.Client, retention time.Duration) (uint64, error) {
	// Defined once, not altered on every call: a definition change makes
	// concurrent writers' transactions conflict.
	def := fmt.Sprintf("DEFINE TABLE IF NOT EXISTS %s CHANGEFEED %s", surreal.Ident(MarkerTable), duration(retention))
	if _, err := surrealdb.Query[any](ctx, cl.DB, def, nil); err != nil {
		return 0, fmt.Errorf("defining %s: %w", MarkerTable, err)
	}
	start := time.Now()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	if _, err := surrealdb.Query[any](ctx, cl.DB, fmt.Sprintf("UPSERT %s:marker SET token = $marker RETURN NONE", surreal.Ident(MarkerTable)), map[string]any{"marker": token}); err != nil {
		return 0, fmt.Errorf("taking a versionstamp: %w", err)
	}
	// Page through the database's feed from the last marker this client
	// found; the write's entry can become visible a moment after the
	// write returns, so an empty page is read again after a pause.
	since := lastMarker(cl)
	wait := time.Millisecond
	for {
		res, err := surrealdb.Query[any](ctx, cl.DB, fmt.Sprintf("SHOW CHANGES FOR DATABASE SINCE %d LIMIT 1000", since+1), nil)
		if err != nil {
			return 0, fmt.Errorf("taking a versionstamp: %w", err)
		}
		var entries []entry
		if err := decodeInto((*res)[0].Result, &entries); err != nil {
			return 0, fmt.Errorf("taking a versionstamp: %w", err)
		}
		for _, e := range entries {
			for _, c := range e.Changes {
				if u, ok := c["update"].(map[string]any); ok && u["token"] == token {
					vs := e.vs()
					markers.Store(cl, vs)
					return vs, nil
				}
			}
		}
		if len(entries) > 0 {
			since = entries[len(entries)-1].vs()
			continue
		}
		if time.Since(start) > 10*time.Second {
			return 0, ErrNoMarker
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// markers remembers, per client, the versionstamp of the last marker Now
// found, where the next search starts.
var markers gosync.Map

func lastMarker(cl *surreal.Client) uint64 {
	if v, ok := markers.Load(cl); ok {
		return v.(uint64)
	}
	return 0
}

// Definition is what SurrealDB says about a table.
type Definition struct {
	// Table is the DEFINE TABLE statement; empty when the table does not
	// exist.
	Table string
	// Fields maps each defined field to its DEFINE FIELD statement.
	Fields map[string]string
}

// Describe reads the definition of table (INFO FOR DB, INFO FOR TABLE).
func Describe(ctx context.Context, cl *surreal.Client, table string) (Definition, error) {
	type dbInfo struct {
		Tables map[string]string `json:"tables"`
	}
	type tbInfo struct {
		Fields map[string]string `json:"fields"`
	}
	db, err := surrealdb.Query[dbInfo](ctx, cl.DB, "INFO FOR DB", nil)
	if err != nil {
		return Definition{}, fmt.Errorf("INFO FOR DB: %w", err)
	}
	def := Definition{Table: (*db)[0].Result.Tables[table], Fields: map[string]string{}}
	if def.Table == "" {
		return def, nil
	}
	tb, err := surrealdb.Query[tbInfo](ctx, cl.DB, "INFO FOR TABLE "+surreal.Ident(table), nil)
	if err != nil {
		return Definition{}, fmt.Errorf("INFO FOR TABLE %s: %w", table, err)
	}
	if f := (*tb)[0].Result.Fields; f != nil {
		def.Fields = f
	}
	return def, nil
}

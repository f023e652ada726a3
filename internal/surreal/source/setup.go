package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/models"

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
	if err := Enable(ctx, cl, MarkerTable, retention); err != nil {
		return 0, err
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	// Read the feed from shortly before the write, by SurrealDB's clock:
	// only the marker writes of that moment are scanned.
	clock, err := surrealdb.Query[models.CustomDateTime](ctx, cl.DB, "RETURN time::now()", nil)
	if err != nil {
		return 0, fmt.Errorf("taking a versionstamp: %w", err)
	}
	since := (*clock)[0].Result.Time.Add(-2 * time.Second).UTC().Format(time.RFC3339Nano)
	q := fmt.Sprintf("UPSERT %s:marker SET token = $marker RETURN NONE; SHOW CHANGES FOR TABLE %s SINCE d'%s' LIMIT 100000;",
		surreal.Ident(MarkerTable), surreal.Ident(MarkerTable), since)
	res, err := surrealdb.Query[any](ctx, cl.DB, q, map[string]any{"marker": token})
	if err != nil {
		return 0, fmt.Errorf("taking a versionstamp: %w", err)
	}
	entries, _ := (*res)[1].Result.([]any)
	for i := len(entries) - 1; i >= 0; i-- {
		e, _ := entries[i].(map[string]any)
		changes, _ := e["changes"].([]any)
		for _, c := range changes {
			cm, _ := c.(map[string]any)
			if u, ok := cm["update"].(map[string]any); ok && u["token"] == token {
				return Versionstamp(e["versionstamp"])
			}
		}
	}
	return 0, ErrNoMarker
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

package mapping

// WriteKind is what a Write does in SurrealDB.
type WriteKind uint8

const (
	// Upsert replaces the record's content with Doc (creating it).
	Upsert WriteKind = iota + 1
	// Merge updates the fields in Doc and keeps the others (an UPDATE
	// whose unchanged TOAST columns were not sent).
	Merge
	// Delete removes the record.
	Delete
	// DeleteTable removes every record of Table (TRUNCATE).
	DeleteTable
	// Relate creates or replaces the edge record ID of edge table Table
	// from In to Out with the fields in Doc.
	Relate
	// DeleteEdgesFrom removes the edges of Table whose in belongs to
	// table FromTable (TRUNCATE of the table the edges start from).
	DeleteEdgesFrom
	// Patch merges Doc into the record only if it exists (backfilling a
	// column added or retyped by a schema change).
	Patch
	// UnsetField removes Field from every record of Table (DROP COLUMN).
	UnsetField
	// RenameField moves FromField to Field in every record (RENAME COLUMN).
	RenameField
	// SetMeta stores Doc as record ID of pgsurreal's own table Table.
	SetMeta
	// Define runs Statement, a schema definition built from escaped
	// identifiers only (sync.schema: schemafull).
	Define
)

// Write is one SurrealDB write derived from a row change. Writes are
// plain data so a sink can batch and render them, and tests can compare
// them.
type Write struct {
	Kind WriteKind
	// Namespace and Database override the sink's default target when set.
	Namespace string
	Database  string
	Table     string
	// ID is the record id part (a scalar or []any); nil for DeleteTable.
	ID any
	// Doc is the record content without id (Upsert, Merge, Relate).
	Doc map[string]any
	// In and Out are the edge ends (Relate), as record links.
	In, Out any
	// FromTable is the table whose edges DeleteEdgesFrom removes.
	FromTable string
	// Field and FromField name fields for UnsetField and RenameField.
	Field, FromField string
	// Statement is the SurrealQL of a Define write.
	Statement string
	// Insert marks an Upsert that comes from a source INSERT: the record
	// is not expected to exist yet.
	Insert bool
	// Source names the PostgreSQL row for error messages:
	// "public.orders key (7)".
	Source string
}

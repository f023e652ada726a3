// Package mapping turns PostgreSQL rows into SurrealDB records: values,
// record ids, record links and graph edges.
//
// Values arrive the same way from the snapshot and from logical
// replication: as text in PostgreSQL's output format (pgoutput sends text,
// and the snapshot reads text so that both paths share one converter).
// LoadTypes resolves a column's type OID from the catalog once, following
// domains to their base, arrays to their element, ranges to their subtype
// and composites to their attributes, so Convert only dispatches on a
// linked *Type and never queries. Convert returns the Go value the
// SurrealDB SDK encodes with the right CBOR tag (decimal, datetime,
// duration, uuid, geometry), never passing an exact value through a float;
// a value SurrealDB cannot hold exactly is an *Error wrapping
// ErrUnrepresentable, which stops the pipeline (or parks the change)
// instead of storing something else. The rules, one row per type, are in
// docs/mapping.md and are checked end to end against real PostgreSQL and
// SurrealDB servers by the golden test (testdata/types.golden.json,
// regenerated with `go test ./internal/mapping -update`).
package mapping

// Package reverse replicates SurrealDB tables into PostgreSQL: the
// opposite direction of package sync.
//
// For each configured SurrealDB table it enables a changefeed, makes sure
// the PostgreSQL target exists (creating it from the table's shape, see
// mapping.ReverseShape), copies the table's current records once, and then
// applies the changefeeds continuously: `SHOW CHANGES FOR TABLE ... SINCE`
// for every table, merged into SurrealDB transactions by versionstamp
// (package surreal/source), each applied to PostgreSQL atomically and in
// versionstamp order, several per PostgreSQL transaction when they queue
// up.
//
// Exactly-once effect: the versionstamp reached is stored in PostgreSQL
// (<reverse.schema>.reverse_position) in the same transaction as the rows
// it covers; after a crash the pipeline reads from there again.
//
// Loop prevention: every write goes through a session set up with the
// replication origin reverse.origin, so PostgreSQL marks those
// transactions in the logical replication stream and sync skips them.
//
// Retention: SurrealDB drops changefeed entries older than the table's
// retention. The position row also records when the feeds were last read
// completely (checked_at); if that is longer ago than reverse.retention,
// changes may be lost and the pipeline stops with the remedy (--resync)
// instead of skipping them.
package reverse

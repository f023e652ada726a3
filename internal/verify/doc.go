// Package verify compares PostgreSQL with SurrealDB through the mapping
// and repairs what differs.
//
// Each replicated table is compared from its source of truth: a table
// the sync replicates (PostgreSQL -> SurrealDB) row by row against its
// record, its record links and its edge records; a table the reverse
// direction replicates (SurrealDB -> PostgreSQL) record by record against
// its row. Both sides are read once, in key order and in chunks of
// verify.chunk_rows: for sync tables the PostgreSQL rows (one snapshot,
// mapped exactly as the sync maps them) and the SurrealDB records (record
// ranges, a range scan per page) meet in pgsurreal, where each chunk's
// checksum over the canonical form of its records is compared and only a
// differing chunk is compared record by record. For reverse tables the
// comparison runs inside PostgreSQL: a chunk of records, mapped as the
// reverse direction maps them, is copied into a temporary table and
// compared there with the rows of the same keys, every value cast to its
// column's type, so PostgreSQL's own input and output functions decide
// equality; rows no record had are found with one anti-join at the end.
// No function exists in both engines that renders a row and a document
// identically (decimals, datetimes, links), so the checksums cannot be
// computed inside each engine and compared across them; reading each
// side once in key order is the floor for an exact comparison, and the
// cost grows with the table, not with the number of differences.
//
// A difference found while changes are in flight is not drift yet. Each
// is re-checked by key: read the source row, let replication catch up
// (a heartbeat message the sync applies, or a marker versionstamp the
// reverse direction passes), read the replica, read the source again. A
// key whose source did not change in between and whose replica differs
// is confirmed; one that changed is re-checked, up to five times, and
// then reported as unsettled, never as a difference.
//
// A forward table placed on other SurrealDB servers (route.Placement:
// sync.tables[].server, .partition) is read where it lives: a routed
// table from its server, a partitioned one from every server of its rule
// at once, the record streams merged in record id order, so PostgreSQL is
// compared with the union in one read of each side. A record found on a
// server its rule does not name is set aside as a candidate; the re-check
// reads every server of the table by key and reports it as extra on that
// server, and repair deletes it there. Waiting for the sync waits until
// every server's stored position passes the heartbeat.
//
// Repair rewrites the replica from the source as it is at repair time
// with replication's own writes (the sink's tagged transactions, the
// reverse direction's upserts and deletes), and verifies the keys again.
package verify

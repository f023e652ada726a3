// Package federation answers PostgreSQL SQL over PostgreSQL tables and
// SurrealDB tables (schema "surreal") with PostgreSQL's own semantics.
//
// A statement is parsed with the real PostgreSQL parser (pg_query_go,
// parse.go). A statement that names no SurrealDB table is left alone (the
// caller passes it through). Otherwise the planner (plan.go) turns each
// SurrealDB table reference into a scan: the columns the statement could
// reference, the predicates SurrealDB answers exactly (pushdown.go), a
// safe LIMIT, and join keys from a selective PostgreSQL table, a
// PostgreSQL-side constant or another scan read first (bind joins). A
// SELECT over one SurrealDB table with count/sum/min/max and GROUP BY
// becomes an aggregate SurrealDB computes (agg.go); surreal.query(...)
// passes SurrealQL through (passthrough.go). Each reference is replaced
// in the tree by jsonb_to_recordset($n::jsonb) over the rows read, and
// PostgreSQL runs the deparsed statement (run.go), so joins, aggregates,
// window functions, ORDER BY, NULLs and types are PostgreSQL's. Pushed
// predicates are only ever a pre-filter: the rewritten statement keeps
// every predicate of the original, so a pushdown can make a query
// cheaper but never change its answer.
//
// Reads go through the Redis cache when one is configured (cache.go:
// keys carry per-table versions the change streams bump, see
// Invalidator), and read_your_writes first waits for the sync to pass
// PostgreSQL's WAL position (ryw.go). Table definitions come from
// SurrealDB's DEFINE FIELDs through the reverse mapping (catalog.go).
// EXPLAIN FEDERATED runs a statement and reports each step (explain.go).
//
// A table sync.tables places on another SurrealDB server is read there;
// a partitioned one from each of its servers, the rows concatenated
// before PostgreSQL sees them, with only the pushdowns that stay exact
// over a union (servers.go).
package federation

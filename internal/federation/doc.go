// Package federation answers PostgreSQL SQL over PostgreSQL tables and
// SurrealDB tables (schema "surreal") with PostgreSQL's own semantics.
//
// A statement is parsed with the real PostgreSQL parser (pg_query_go).
// Each SurrealDB table it names is read from SurrealDB with what
// SurrealDB can answer exactly pushed down (the columns needed, simple
// comparisons with constants and parameters, the join keys a selective
// PostgreSQL side produces), and is replaced in the statement by
// jsonb_to_recordset($n) over those rows. PostgreSQL then runs the
// rewritten statement, so joins, aggregates, window functions, ORDER BY,
// NULLs and types are PostgreSQL's. Pushed-down predicates are only ever
// a pre-filter: the rewritten statement keeps every predicate of the
// original, so a pushdown can make a query cheaper but never change its
// answer.
package federation

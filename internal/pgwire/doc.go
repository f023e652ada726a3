// Package pgwire is pgsurreal's PostgreSQL wire protocol front end: psql,
// drivers and BI tools connect to it as to PostgreSQL and may read
// SurrealDB tables (schema "surreal") in their SQL.
//
// Each client logs in as the one configured user (SCRAM-SHA-256 without
// channel binding, or a cleartext password; optionally over TLS) and
// then gets a PostgreSQL connection of its own (the database named in the
// startup packet is ignored; the configured one is used), so session
// state (SET, transactions, prepared statements, temporary tables,
// LISTEN) behaves as in PostgreSQL. Every statement is first shown to the
// federation engine. Those that read no SurrealDB table are passed
// through: the client's messages go to PostgreSQL unchanged, with the
// client's own statement and portal names, and a relay goroutine copies
// PostgreSQL's answers back as they come, so pipelines and their implicit
// transactions, row-limited portals, COPY, notices, notifications and
// every error field are PostgreSQL's own. For a federated statement the
// session parks the relay (a Sync of its own, whose ReadyForQuery the
// relay swallows), takes the connection over, prepares the engine's
// rewritten statement under a name of its own (pgw_<n>), and on Execute
// passes the client's values and the engine's SurrealDB inputs to it,
// showing the client only its own parameters. Errors pgsurreal raises
// itself go where PostgreSQL would raise them: in a pipeline PostgreSQL is
// made to fail at that point (a Parse it rejects, whose error the relay
// replaces), so the rest of the batch is skipped and its implicit
// transaction rolled back; inside a transaction block the block fails.
// CancelRequest uses key data the server hands out and is forwarded to the
// session's PostgreSQL connection (and cancels SurrealDB reads in
// progress).
//
// Known differences from PostgreSQL: a federated message in the middle of
// a pipeline ends the implicit transaction of the messages before it, and
// a simple query mixing federated and other statements runs them one at a
// time rather than in one implicit transaction. A federated portal's
// result is read whole on its first Execute; later Executes hand it out.
// Errors raised while running a rewritten statement carry no cursor
// position (it would point into SQL the client never sent).
package pgwire

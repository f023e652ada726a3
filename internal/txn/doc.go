// Package txn commits transactions that span PostgreSQL and SurrealDB
// atomically, although SurrealDB has no PREPARE: SurrealDB is the last
// resource, and its commit, which also creates the transaction's decision
// record, is the commit point.
//
// RunTx runs the caller's function against a PostgreSQL transaction and a
// SurrealDB interactive transaction, then: PREPARE TRANSACTION under a
// global id "pgsurreal:<coordinator>:<random>" (1), CREATE the decision
// record _pgsurreal_tx:<gid> {decision: commit} inside the SurrealDB
// transaction and commit it (2, the commit point), COMMIT PREPARED (3).
// A failure before (2) rolls both back; after it, the transaction is
// committed and the resolver finishes (3) if the coordinator cannot.
//
// Recover (the resolver) finishes pgsurreal's prepared transactions:
// commit where the decision says commit, roll back where it says abort,
// and where there is none and the coordinator's lease has expired, write
// an abort decision first. That CREATE is the fence: a coordinator that
// has not committed yet can no longer commit, because its own CREATE of
// the same record fails, or its commit conflicts with the abort record.
// Named fault points after each phase (PGSURREAL_TX_FAULT) let tests kill
// the process exactly there. docs/transactions.md has the state diagram
// and the guarantees.
package txn

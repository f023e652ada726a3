// Package backup takes coordinated backups of the PostgreSQL database and
// the SurrealDB namespaces/databases pgsurreal replicates between, and
// restores both into empty targets.
//
// A backup is one directory, <backup.dir>/<UTC time>. PostgreSQL is dumped
// by pg_dump (directory format, parallel jobs) under a snapshot exported by
// a REPEATABLE READ transaction that also reads pg_current_wal_lsn(), so
// the dump's WAL position is known; the same transaction counts every
// table's rows. While pg_dump runs, the sync is given until
// verify.wait_timeout to apply PostgreSQL's WAL up to that position on
// every SurrealDB server that holds data (the default, and each server of
// surreal.servers a table is routed or partitioned to: each stores its own
// position), and then each server's namespaces/databases are exported
// over SurrealDB's HTTP /export endpoint, the servers side by side. The
// manifest (manifest.json, format version, versions, the snapshot's LSN,
// each server's and the reverse direction's positions, the server of each
// export, row and record counts, and the size and SHA-256 of every file)
// is written last by an atomic rename: a directory without it is a backup
// that did not finish.
//
// Restore checks everything it can before writing anywhere (the manifest,
// every file's size and checksum, that the configuration defines every
// SurrealDB server the backup holds, that the targets are empty, that a
// replication slot can be created), then runs pg_restore and the
// SurrealDB /import of each export into the server of the same name,
// compares the restored row and record counts with the manifest, and
// prepares replication to resume without a new copy: a new slot whose
// consistent point becomes the sync's stored position on every server
// (through a function the caller wires in: engines do not import each
// other), and the reverse direction's positions moved to SurrealDB's
// current versionstamp. Prune applies retention to a directory of backups.
package backup

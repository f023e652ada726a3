package leader

import (
	"strings"

	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// The lock is the bigint advisory lock hashtext('pgsurreal leader ' ||
// name): an operator finds it with
//
//	SELECT pid, application_name FROM pg_locks JOIN pg_stat_activity USING (pid)
//	WHERE locktype = 'advisory' AND objsubid = 1
//	  AND objid::bigint = hashtext('pgsurreal leader ' || '<slot>')::bigint & 4294967295
//
// pg_locks shows a bigint key as classid (its high 32 bits) and objid (its
// low 32 bits), objsubid 1.
const (
	// tryLockSQL takes the lock if it is free and names the session that
	// holds it ($1 the key, $2 and $3 its classid and objid).
	tryLockSQL = `SELECT pg_try_advisory_lock($1::bigint),
  (SELECT a.application_name FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid
    WHERE k.locktype = 'advisory' AND k.granted AND k.objsubid = 1
      AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND k.classid::bigint = $2 AND k.objid::bigint = $3
    LIMIT 1)`
	// holdsSQL is the holder's check: its own backend holds the lock.
	holdsSQL = `SELECT EXISTS (SELECT 1 FROM pg_locks
  WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1
    AND classid::bigint = $1 AND objid::bigint = $2)`
)

// epochTable counts the terms of each lease: its epoch, the fencing token
// replication writes carry. Only the lock holder writes it. It lives in
// pgsurreal's schema (reverse.schema), always named with it: an
// unqualified name would resolve by search_path, which changes when that
// schema appears ("$user" comes first), and a second table would start
// the epochs over.
const epochTable = "leader_epoch"

// DefaultSchema is the schema of the epoch table when none is given.
const DefaultSchema = "pgsurreal"

func epochTableIn(schema string) string { return postgres.QualifiedIdent(schema, epochTable) }

func createEpochSQL(schema string) string {
	return `CREATE SCHEMA IF NOT EXISTS ` + postgres.Ident(schema) + `;
CREATE TABLE IF NOT EXISTS ` + epochTableIn(schema) + ` (name text PRIMARY KEY, epoch bigint NOT NULL)`
}

func nextEpochSQL(schema string) string {
	return `INSERT INTO ` + epochTableIn(schema) + ` AS e (name, epoch) VALUES ($1, 1)
  ON CONFLICT (name) DO UPDATE SET epoch = e.epoch + 1 RETURNING epoch`
}

// keyText is the text whose hashtext is the lock's key.
func keyText(name string) string { return "pgsurreal leader " + name }

// classID and objID are the halves of a bigint advisory lock key as
// pg_locks shows them.
func classID(key int64) int64 { return int64(uint64(key) >> 32) }
func objID(key int64) int64   { return int64(uint32(key)) }

// appPrefix starts the application_name of every lock session, so a
// standby can tell who holds the lease.
const appPrefix = "pgsurreal-lease "

// appName is the lock session's application_name (PostgreSQL keeps 63
// bytes of it).
func appName(id string) string {
	s := appPrefix + id
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// holderID is the ID in a lock session's application_name.
func holderID(app string) string {
	if id, ok := strings.CutPrefix(app, appPrefix); ok {
		return id
	}
	if app == "" {
		return "unknown"
	}
	return app
}

// checkEpochSQL reads a lease's epoch, locking its row FOR SHARE: a
// takeover's raise waits until the writing transaction has ended.
func checkEpochSQL(schema string) string {
	return `SELECT epoch FROM ` + epochTableIn(schema) + ` WHERE name = $1 FOR SHARE`
}

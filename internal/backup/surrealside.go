package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/postgres/logrepl"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// target is one SurrealDB namespace/database a backup exports: the
// configured one, or one that sync.tables entries name.
type target struct {
	ns, db string
	// def marks surreal.namespace/database; otherwise overNS/overDB are
	// the sync.tables entries' values (either may be empty) and tables
	// their names.
	def            bool
	overNS, overDB string
	tables         []string
}

// targets lists the configured namespace/database and every other one
// that sync.tables entries name, each once.
func targets(sc config.Surreal, sy config.Sync) []target {
	out := []target{{ns: sc.Namespace, db: sc.Database, def: true}}
	for _, t := range sy.Tables {
		if t.Namespace == "" && t.Database == "" {
			continue
		}
		ns, db := or(t.Namespace, sc.Namespace), or(t.Database, sc.Database)
		i := slices.IndexFunc(out, func(o target) bool { return o.ns == ns && o.db == db })
		if i < 0 {
			out = append(out, target{ns: ns, db: db, overNS: t.Namespace, overDB: t.Database})
			i = len(out) - 1
		}
		if !out[i].def {
			out[i].tables = append(out[i].tables, tableName(t))
		}
	}
	return out
}

func tableName(t config.Table) string { return t.SchemaName() + "." + t.TableName() }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Target is the namespace and database Restore puts the export into,
// given the restore's configuration: surreal.namespace/database for the
// default export; for another, where the restore's sync.tables entries
// for the export's tables put them (the sync writes them there), or, when
// it has no entry for them, the namespace/database the backup's entries
// named (OverrideNamespace/OverrideDatabase).
func (e Export) Target(sc config.Surreal, sy config.Sync) (ns, db string, err error) {
	if e.Default {
		return sc.Namespace, sc.Database, nil
	}
	found := false
	for _, t := range sy.Tables {
		if !slices.Contains(e.SyncTables, tableName(t)) {
			continue
		}
		tns, tdb := or(t.Namespace, sc.Namespace), or(t.Database, sc.Database)
		if found && (tns != ns || tdb != db) {
			return "", "", fmt.Errorf("the backup's SurrealDB export of %s/%s holds tables %s, which the sync.tables entries put into different namespaces/databases (%s/%s and %s/%s): give them one namespace/database, as when the backup was taken", e.Namespace, e.Database, strings.Join(e.SyncTables, ", "), ns, db, tns, tdb)
		}
		ns, db, found = tns, tdb, true
	}
	if found {
		return ns, db, nil
	}
	return or(e.OverrideNamespace, sc.Namespace), or(e.OverrideDatabase, sc.Database), nil
}

// exportFile is the file of an export, relative to the backup: every
// character but letters, digits, - and _ is %-escaped, so any name makes
// a safe file name.
func exportFile(ns, db string) string {
	return "surreal/" + fileName(ns) + "/" + fileName(db) + ".surql"
}

func fileName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() == 0 {
		return "%"
	}
	return b.String()
}

// connectTo signs in to SurrealDB using namespace ns, database db.
func connectTo(ctx context.Context, cfg config.Surreal, ns, db string) (*surreal.Client, error) {
	cfg.Namespace, cfg.Database = ns, db
	return surreal.Connect(ctx, cfg, nil)
}

// readPosition reads the sync's stored position for slot, or nil.
func readPosition(ctx context.Context, cl *surreal.Client, slot string) (*sink.Position, error) {
	p, err := sink.ReadPosition(ctx, cl.DB, slot)
	if err != nil {
		return nil, fmt.Errorf("reading the sync's position (slot %s): %w", slot, err)
	}
	return p, nil
}

// waitForSync makes the sync's progress pass PostgreSQL's current WAL
// position, as read-your-writes does (logrepl.EmitHeartbeat, then
// sink.WaitApplied). It returns the position waited for, the last one
// read, and whether it was reached.
func waitForSync(ctx context.Context, pg postgres.Querier, cl *surreal.Client, slot string, timeout time.Duration) (target, at cdc.LSN, ok bool, err error) {
	if target, err = logrepl.EmitHeartbeat(ctx, pg); err != nil {
		return 0, 0, false, err
	}
	at, ok, err = sink.WaitApplied(ctx, func(ctx context.Context) (*sink.Position, error) { return readPosition(ctx, cl, slot) }, target, timeout)
	return target, at, ok, err
}

// surrealTables lists the tables of the client's database (INFO FOR DB);
// none when the namespace or database does not exist.
func surrealTables(ctx context.Context, cl *surreal.Client) ([]string, error) {
	type dbInfo struct {
		Tables map[string]any `json:"tables"`
	}
	res, err := surrealdb.Query[dbInfo](ctx, cl.DB, "INFO FOR DB", nil)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, nil
		}
		return nil, fmt.Errorf("INFO FOR DB: %w", err)
	}
	var out []string
	for name := range (*res)[0].Result.Tables {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// countRecords counts the records of each of tables.
func countRecords(ctx context.Context, cl *surreal.Client, tables []string) ([]TableCount, error) {
	out := make([]TableCount, 0, len(tables))
	for _, t := range tables {
		res, err := surrealdb.Query[[]struct {
			Count int64 `json:"count"`
		}](ctx, cl.DB, "SELECT count() FROM "+surreal.Ident(t)+" GROUP ALL", nil)
		if err != nil {
			return nil, fmt.Errorf("counting the records of SurrealDB table %s: %w", t, err)
		}
		var n int64
		if rs := (*res)[0].Result; len(rs) > 0 {
			n = rs[0].Count
		}
		out = append(out, TableCount{Name: t, Rows: n})
	}
	return out, nil
}

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
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// target is one SurrealDB namespace/database a backup exports: on one
// server, the server's own namespace/database, or one that sync.tables
// entries name.
type target struct {
	server string
	// def marks the server's own namespace/database; otherwise overNS and
	// overDB are the sync.tables entries' values (either may be empty)
	// and tables their names.
	ns, db         string
	def            bool
	overNS, overDB string
	tables         []string
}

// targets lists the namespaces/databases of server, whose configuration
// is sc: its own, and every other one that the sync.tables entries whose
// tables it holds name, each once.
func targets(server string, sc config.Surreal, sy config.Sync) []target {
	rules := route.Rules(sy)
	out := []target{{server: server, ns: sc.Namespace, db: sc.Database, def: true}}
	for _, t := range sy.Tables {
		if t.Namespace == "" && t.Database == "" {
			continue
		}
		on := []string{route.Default}
		if r := rules[t.Name]; r != nil {
			on = r.Servers
		}
		if !slices.Contains(on, server) {
			continue
		}
		ns, db := or(t.Namespace, sc.Namespace), or(t.Database, sc.Database)
		i := slices.IndexFunc(out, func(o target) bool { return o.ns == ns && o.db == db })
		if i < 0 {
			out = append(out, target{server: server, ns: ns, db: db, overNS: t.Namespace, overDB: t.Database})
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

// ServerName is the SurrealDB server the export came from; manifests
// written before several servers name none, which is the default.
func (e Export) ServerName() string { return or(e.Server, route.Default) }

// Target is the namespace and database Restore puts the export into,
// given the restore's configuration: on the server of the same name
// (sc.Server), its namespace/database for the export of the server's
// own; for another, where the restore's sync.tables entries for the
// export's tables put them (the sync writes them there), or, when it has
// no entry for them, the namespace/database the backup's entries named
// (OverrideNamespace/OverrideDatabase).
func (e Export) Target(sc config.Surreal, sy config.Sync) (ns, db string, err error) {
	srv, err := e.serverConfig(sc)
	if err != nil {
		return "", "", err
	}
	if e.Default {
		return srv.Namespace, srv.Database, nil
	}
	found := false
	for _, t := range sy.Tables {
		if !slices.Contains(e.SyncTables, tableName(t)) {
			continue
		}
		tns, tdb := or(t.Namespace, srv.Namespace), or(t.Database, srv.Database)
		if found && (tns != ns || tdb != db) {
			return "", "", fmt.Errorf("the backup's SurrealDB export of %s/%s holds tables %s, which the sync.tables entries put into different namespaces/databases (%s/%s and %s/%s): give them one namespace/database, as when the backup was taken", e.Namespace, e.Database, strings.Join(e.SyncTables, ", "), ns, db, tns, tdb)
		}
		ns, db, found = tns, tdb, true
	}
	if found {
		return ns, db, nil
	}
	return or(e.OverrideNamespace, srv.Namespace), or(e.OverrideDatabase, srv.Database), nil
}

// serverConfig is how to reach the export's server in the restore's
// configuration.
func (e Export) serverConfig(sc config.Surreal) (config.Surreal, error) {
	srv, ok := sc.Server(e.ServerName())
	if !ok {
		return config.Surreal{}, &MissingServerError{Server: e.ServerName(), URL: e.URL}
	}
	return srv, nil
}

// MissingServerError is a backup holding the export of a SurrealDB server
// the restore's configuration does not define.
type MissingServerError struct {
	Server string
	// URL is where the backup found the server (without credentials).
	URL string
}

func (e *MissingServerError) Error() string {
	from := ""
	if e.URL != "" {
		from = " (backed up from " + e.URL + ")"
	}
	return fmt.Sprintf("the backup holds the data of SurrealDB server %q%s, which the configuration does not define: add a server named %q to surreal.servers, with the url of the server to restore it into", e.Server, from, e.Server)
}

// exportFile is the file of an export, relative to the backup:
// surreal/<ns>/<db>.surql for the default server, surreal/@<server>/...
// for another. Every character of a name but letters, digits, - and _ is
// %-escaped, so any name makes a safe file name, and no namespace's
// directory starts with @.
func exportFile(server, ns, db string) string {
	dir := "surreal/"
	if server != route.Default {
		dir += "@" + fileName(server) + "/"
	}
	return dir + fileName(ns) + "/" + fileName(db) + ".surql"
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

// waitForSync makes the sync's progress (read: with several servers, the
// oldest of their positions) pass PostgreSQL's current WAL position, as
// read-your-writes does (logrepl.EmitHeartbeat, then sink.WaitApplied).
// It returns the position waited for, the last one
// read, and whether it was reached.
func waitForSync(ctx context.Context, pg postgres.Querier, read func(context.Context) (*sink.Position, error), timeout time.Duration) (target, at cdc.LSN, ok bool, err error) {
	if target, err = logrepl.EmitHeartbeat(ctx, pg); err != nil {
		return 0, 0, false, err
	}
	at, ok, err = sink.WaitApplied(ctx, read, target, timeout)
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

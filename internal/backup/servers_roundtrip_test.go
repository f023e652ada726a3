package backup_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	surrealdb "github.com/surrealdb/surrealdb.go"

	"github.com/pgsurreal/pgsurreal/internal/backup"
	"github.com/pgsurreal/pgsurreal/internal/backup/backuptest"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

const partitionSchema = `
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE event (
	region text NOT NULL,
	id int NOT NULL,
	customer_id int REFERENCES customer(id),
	note text,
	PRIMARY KEY (region, id));
CREATE TABLE click (id bigint PRIMARY KEY, page text);
CREATE TABLE audit (id int PRIMARY KEY, what text);
INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 20) g;
INSERT INTO event SELECT (ARRAY['EU','UK','US','BR'])[1 + g % 4], g, 1 + g % 20, 'n' || g FROM generate_series(1, 200) g;
INSERT INTO click SELECT g, 'p' || g FROM generate_series(1, 150) g;
INSERT INTO audit SELECT g, 'a' || g FROM generate_series(1, 30) g;
`

// partitionTables spread event (by region, with its made_by edges) and
// click (by hash) over the default server and eu, and put audit on eu
// alone; customer stays on the default server.
func partitionTables() []config.Table {
	return []config.Table{
		{Name: "public.event", Edges: []config.Edge{{Columns: []string{"customer_id"}, Name: "made_by"}},
			Partition: config.Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "eu"}, Other: "default"}},
		{Name: "public.click", Partition: config.Partition{Column: "id", By: "hash", Servers: []string{"default", "eu"}}},
		{Name: "public.audit", Server: "eu"},
	}
}

// euServer is the surreal.servers entry of server eu at sur, using
// namespace ns and database db.
func euServer(sur config.Surreal, ns, db string) []config.SurrealServer {
	return []config.SurrealServer{{Name: "eu", URL: sur.URL, Namespace: ns, Database: db, Username: sur.Username, Password: sur.Password}}
}

// privateServer starts a SurrealDB server of the test's own; the config
// and the client use namespace ns, database db on it.
func privateServer(t *testing.T, ns, db string) (config.Surreal, *surreal.Client) {
	t.Helper()
	sur := testenv.PrivateSurreal(t)
	if !backuptest.ServesExport(sur.URL) {
		t.Fatalf("the private SurrealDB server %s does not serve /export", sur.URL)
	}
	sur.Namespace, sur.Database = ns, db
	return sur, clientOn(t, sur, ns, db)
}

// clientOn signs in to namespace ns, database db of the server sur.
func clientOn(t *testing.T, sur config.Surreal, ns, db string) *surreal.Client {
	t.Helper()
	sur.Namespace, sur.Database = ns, db
	cl, err := surreal.Connect(context.Background(), sur, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close(context.Background()) })
	return cl
}

// positionOn reads the sync's stored position for slot through cl: its
// phase and LSN, "" and 0 when there is none.
func positionOn(cl *surreal.Client, slot string) (string, cdc.LSN) {
	res, err := surrealdb.Query[[]map[string]any](context.Background(), cl.DB,
		"SELECT lsn, phase FROM type::record('_pgsurreal_position', $s)", map[string]any{"s": slot})
	if err != nil || len(*res) == 0 || len((*res)[0].Result) == 0 {
		return "", 0
	}
	r := (*res)[0].Result[0]
	n, _ := strconv.ParseInt(fmt.Sprint(r["lsn"]), 10, 64)
	return fmt.Sprint(r["phase"]), cdc.LSN(n)
}

// caughtUpOn waits until every client's server stores a streaming position
// at or past PostgreSQL's current WAL position.
func (p *pair) caughtUpOn(t *testing.T, cls ...*surreal.Client) {
	t.Helper()
	var s string
	if err := p.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	target, _ := cdc.ParseLSN(s)
	waitFor(t, 2*time.Minute, "every server's sync position to reach "+s, func() bool {
		for _, cl := range cls {
			if phase, lsn := positionOn(cl, p.cfg.Sync.Slot); phase != pgsync.PhaseStreaming || lsn < target {
				return false
			}
		}
		return true
	})
}

// serverRecords is every table of a server's namespace/database but
// pgsurreal's own, as records by id.
func serverRecords(t *testing.T, cl *surreal.Client) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, tb := range surrealTables(t, cl) {
		if !strings.HasPrefix(tb, "_pgsurreal") {
			out[tb] = records(t, cl, tb)
		}
	}
	return out
}

// sameRecords fails unless a server holds exactly the records want.
func sameRecords(t *testing.T, server string, want, got map[string]map[string]string) {
	t.Helper()
	if w, g := slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)); !slices.Equal(w, g) {
		t.Fatalf("server %s holds tables %v after the restore, want %v", server, g, w)
	}
	for tb, recs := range want {
		for id, rec := range recs {
			if got[tb][id] != rec {
				t.Fatalf("server %s: record %s of %s differs after the restore:\nwant %.400s\ngot  %.400s", server, id, tb, rec, got[tb][id])
			}
		}
		if len(got[tb]) != len(recs) {
			t.Fatalf("server %s: %s holds %d records after the restore, want %d", server, tb, len(got[tb]), len(recs))
		}
	}
}

// serversBackup is a backup of tables partitioned over the shared test
// server (default) and a private one (eu), and what each server held.
type serversBackup struct {
	dir     string
	m       *backup.Manifest
	eu      config.Surreal               // the private server, namespace/database of the backup
	def, on map[string]map[string]string // what each server held: records by id, by table
}

// backupServers replicates partitionSchema over the default server and a
// private eu server, changes it while streaming, and backs it up while
// the sync runs.
func backupServers(t *testing.T) *serversBackup {
	t.Helper()
	ctx := context.Background()
	src := newPair(t, "_src")
	src.cfg.Reverse.Tables = nil
	exec1(t, src.pool, partitionSchema)
	eu, euCl := privateServer(t, "shop_eu", "main")
	src.cfg.Surreal.Servers = euServer(eu, eu.Namespace, eu.Database)
	src.cfg.Sync.Tables = partitionTables()
	stop := src.runSync(t)
	src.caughtUpOn(t, src.cl, euCl)
	exec1(t, src.pool, `UPDATE event SET note = 'changed' WHERE id % 7 = 0;
DELETE FROM event WHERE id % 13 = 0;
INSERT INTO click SELECT g, 'q' || g FROM generate_series(151, 200) g;
UPDATE audit SET what = 'seen' WHERE id < 5`)
	src.caughtUpOn(t, src.cl, euCl)

	def, onEU := serverRecords(t, src.cl), serverRecords(t, euCl)
	// The placement the backup must keep: the partitioned tables on
	// both servers, audit on eu alone, customer on the default alone.
	for _, tb := range []string{"event", "made_by", "click"} {
		if len(def[tb]) == 0 || len(onEU[tb]) == 0 {
			t.Fatalf("%s is not spread over both servers (default %d records, eu %d)", tb, len(def[tb]), len(onEU[tb]))
		}
	}
	if len(onEU["audit"]) != 30 || def["audit"] != nil || len(def["customer"]) != 20 || onEU["customer"] != nil {
		t.Fatalf("audit: default %d, eu %d records; customer: default %d, eu %d; want audit on eu alone, customer on default alone",
			len(def["audit"]), len(onEU["audit"]), len(def["customer"]), len(onEU["customer"]))
	}

	res, err := backup.Run(ctx, backup.Options{Config: src.cfg, Dir: t.TempDir(), Log: logger()})
	stop()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return &serversBackup{dir: res.Dir, m: res.Manifest, eu: eu, def: def, on: onEU}
}

// TestBackupRestoreServers backs up tables partitioned over two SurrealDB
// servers and restores the backup: into fresh namespaces and a second
// private server, with replication resuming on both servers; into fresh
// namespaces of the same servers. Restore refuses, before writing
// anything, a configuration without the second server, a damaged or
// missing export of it, and a second server's target that is not empty.
func TestBackupRestoreServers(t *testing.T) {
	t.Parallel()
	b := backupServers(t)
	checkServersManifest(t, b)

	t.Run("round trip to another server", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		dst := newPair(t, "_dst")
		dst.cfg.Reverse.Tables = nil
		eu2, eu2Cl := privateServer(t, "shop_eu_restored", "r")
		dst.cfg.Surreal.Servers = euServer(eu2, "shop_eu_restored", "r")
		dst.cfg.Sync.Tables = partitionTables()
		o := backup.Options{Config: dst.cfg, Dir: b.dir, Log: logger(),
			Rebase: func(ctx context.Context) (cdc.LSN, error) { return pgsync.Rebase(ctx, dst.syncOptions()) }}
		res, err := backup.Restore(ctx, o)
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		if s := strings.Join(res.Resume, "\n"); !strings.Contains(s, "created replication slot "+dst.cfg.Sync.Slot) {
			t.Fatalf("restore did not prepare the sync to resume:\n%s", s)
		}
		sameRecords(t, "default", b.def, serverRecords(t, dst.cl))
		sameRecords(t, "eu", b.on, serverRecords(t, eu2Cl))
		for _, cl := range []*surreal.Client{dst.cl, eu2Cl} {
			if phase, lsn := positionOn(cl, dst.cfg.Sync.Slot); phase != pgsync.PhaseStreaming || lsn == 0 {
				t.Fatalf("a restored server holds sync position %s %s for slot %s, want the new slot's, streaming", phase, lsn, dst.cfg.Sync.Slot)
			}
		}

		// The sync resumes on both restored servers without a new copy:
		// a record changed only in SurrealDB keeps its change, and new
		// rows reach the server their rule names.
		surql(t, eu2Cl, "UPDATE audit:1 SET canary = true", nil)
		dst.runSync(t)
		exec1(t, dst.pool, `INSERT INTO event VALUES ('EU', 5001, 1, 'after'), ('US', 5002, 2, 'after'); INSERT INTO audit VALUES (5003, 'after')`)
		dst.caughtUpOn(t, dst.cl, eu2Cl)
		if got := fmt.Sprint(surql(t, eu2Cl, "SELECT VALUE region FROM event WHERE note = 'after'", nil)[0].Result); got != "[EU]" {
			t.Fatalf("eu holds new events of regions %s, want the EU one alone", got)
		}
		if got := fmt.Sprint(surql(t, dst.cl, "SELECT VALUE region FROM event WHERE note = 'after'", nil)[0].Result); got != "[US]" {
			t.Fatalf("the default server holds new events of regions %s, want the US one alone", got)
		}
		if n := len(records(t, eu2Cl, "audit")); n != 31 {
			t.Fatalf("restored eu audit holds %d records after a new row, want 31", n)
		}
		if got := fmt.Sprint(surql(t, eu2Cl, "SELECT VALUE canary FROM audit:1", nil)[0].Result); got != "[true]" {
			t.Fatalf("audit 1 on eu lost its SurrealDB-only field (canary = %s): the sync copied everything again", got)
		}
	})

	t.Run("round trip to fresh namespaces", func(t *testing.T) {
		t.Parallel()
		dst, o := restoreTarget(t)
		o.Dir, o.NoResume = b.dir, true
		o.Config.Surreal.Servers = euServer(b.eu, "shop_eu_fresh", "main")
		o.Config.Sync.Tables = partitionTables()
		if _, err := backup.Restore(context.Background(), o); err != nil {
			t.Fatalf("restore: %v", err)
		}
		sameRecords(t, "default", b.def, serverRecords(t, dst.cl))
		sameRecords(t, "eu", b.on, serverRecords(t, clientOn(t, b.eu, "shop_eu_fresh", "main")))
		// The original namespace on eu is as the backup left it.
		sameRecords(t, "eu (the original)", b.on, serverRecords(t, clientOn(t, b.eu, b.eu.Namespace, b.eu.Database)))
	})

	t.Run("config lacks the server", func(t *testing.T) {
		t.Parallel()
		dst, o := restoreTarget(t)
		o.Dir = b.dir
		_, err := backup.Restore(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), `SurrealDB server "eu" (backed up from `+b.eu.URL+")") ||
			!strings.Contains(err.Error(), "surreal.servers") || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("restore without server eu in the configuration: err = %v, want it refused naming eu and surreal.servers", err)
		}
		t.Logf("refused: %v", err)
		assertUntouched(t, dst, 0)
	})

	euExport := ""
	for _, e := range b.m.Surreal.Exports {
		if e.Server == "eu" && e.Default {
			euExport = e.File
		}
	}
	for _, c := range []struct {
		name   string
		damage func(path string)
		want   []string
	}{
		{"corrupted export of eu", func(p string) {
			data, err := os.ReadFile(p)
			must(t, err)
			data[len(data)/2] ^= 0x01
			must(t, os.WriteFile(p, data, 0o600))
		}, []string{"SHA-256", "corrupted"}},
		{"missing export of eu", func(p string) { must(t, os.Remove(p)) }, []string{"is missing"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := copyDir(t, b.dir)
			c.damage(filepath.Join(d, filepath.FromSlash(euExport)))
			dst, o := restoreTarget(t)
			o.Dir = d
			o.Config.Surreal.Servers = euServer(b.eu, "shop_eu_damaged", "main")
			o.Config.Sync.Tables = partitionTables()
			_, err := backup.Restore(context.Background(), o)
			if err == nil {
				t.Fatal("restore of a backup with a damaged export of eu succeeded")
			}
			t.Logf("refused: %v", err)
			for _, w := range append(c.want, euExport, `SurrealDB server "eu"`, "nothing was written") {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v\nwant it to contain %q", err, w)
				}
			}
			assertUntouched(t, dst, 0)
			if got := surrealTables(t, clientOn(t, b.eu, "shop_eu_damaged", "main")); len(got) != 0 {
				t.Fatalf("a refused restore wrote tables %v on eu", got)
			}
		})
	}

	t.Run("eu target not empty", func(t *testing.T) {
		t.Parallel()
		dst, o := restoreTarget(t)
		o.Dir = b.dir
		o.Config.Surreal.Servers = euServer(b.eu, "shop_eu_taken", "main")
		o.Config.Sync.Tables = partitionTables()
		surql(t, clientOn(t, b.eu, "shop_eu_taken", "main"), "CREATE squatter:1 SET v = 1", nil)
		_, err := backup.Restore(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "table squatter") || !strings.Contains(err.Error(), `server "eu"`) || !strings.Contains(err.Error(), "shop_eu_taken") {
			t.Fatalf("restore into a non-empty database on eu: err = %v, want it refused naming eu and squatter", err)
		}
		t.Logf("refused: %v", err)
		assertUntouched(t, dst, 0)
		if got := surrealTables(t, clientOn(t, b.eu, "shop_eu_taken", "main")); strings.Join(got, ",") != "squatter" {
			t.Fatalf("the refused restore changed eu's target: tables %v", got)
		}
	})
}

// checkServersManifest checks what the manifest says of the servers:
// each export's server and URL (no credentials), both servers' sync
// positions caught up, and format version 2.
func checkServersManifest(t *testing.T, b *serversBackup) {
	t.Helper()
	m := b.m
	if m.FormatVersion != 2 {
		t.Fatalf("a backup of two servers has format version %d, want 2", m.FormatVersion)
	}
	var servers []string
	for _, s := range m.Surreal.Servers {
		servers = append(servers, s.Name+"="+s.URL)
		if s.Version == "" {
			t.Errorf("server %s has no version in the manifest", s.Name)
		}
	}
	def := env(t).Surreal.URL
	if got, want := strings.Join(servers, " "), "default="+def+" eu="+b.eu.URL; got != want {
		t.Fatalf("manifest servers %s, want %s", got, want)
	}
	var exports []string
	for _, e := range m.Surreal.Exports {
		exports = append(exports, fmt.Sprintf("%s:%s/%s:%s", e.Server, e.Namespace, e.Database, e.File))
		if e.URL != map[string]string{"default": def, "eu": b.eu.URL}[e.Server] {
			t.Errorf("export %s/%s of server %s has URL %q", e.Namespace, e.Database, e.Server, e.URL)
		}
		counted := map[string]int64{}
		for _, tc := range e.Tables {
			counted[tc.Name] = tc.Rows
		}
		held := b.def
		if e.Server == "eu" {
			held = b.on
		}
		for tb, recs := range held {
			if counted[tb] != int64(len(recs)) {
				t.Errorf("the manifest counts %d records of %s on server %s, it held %d", counted[tb], tb, e.Server, len(recs))
			}
		}
	}
	if len(exports) != 2 || !strings.HasPrefix(exports[0], "default:") || exports[1] != "eu:shop_eu/main:surreal/@eu/shop_eu/main.surql" {
		t.Fatalf("manifest exports %v, want the default server's and eu's own namespace/database", exports)
	}
	s := m.Sync
	if s == nil || !s.CaughtUp || s.Phase != pgsync.PhaseStreaming || len(s.Servers) != 2 {
		t.Fatalf("manifest sync %+v, want both servers caught up and streaming", s)
	}
	target, _ := cdc.ParseLSN(s.TargetLSN)
	oldest := cdc.LSN(1<<63 - 1)
	for _, p := range s.Servers {
		lsn, err := cdc.ParseLSN(p.LSN)
		if err != nil || p.Phase != pgsync.PhaseStreaming || lsn < target {
			t.Fatalf("server %s's sync position %+v did not reach the target %s", p.Server, p, s.TargetLSN)
		}
		oldest = min(oldest, lsn)
	}
	if s.LSN != oldest.String() {
		t.Fatalf("the manifest's sync position %s is not the oldest of the servers' (%s)", s.LSN, oldest)
	}
	raw, err := os.ReadFile(filepath.Join(b.dir, backup.ManifestFile))
	must(t, err)
	if strings.Contains(strings.ToLower(string(raw)), "password") || strings.Contains(string(raw), "@127.0.0.1") {
		t.Fatalf("the manifest holds credentials:\n%s", raw)
	}
}

// TestBackupWaitsForEveryServer: a server the sync never wrote to (added
// to the placement since) holds no position, so the backup cannot see the
// sync caught up, however far the default server is; it says so per
// server, and a restore does not prepare the sync to resume.
func TestBackupWaitsForEveryServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newPair(t, "_src")
	src.cfg.Reverse.Tables = nil
	exec1(t, src.pool, partitionSchema)
	src.cfg.Sync.Tables = nil
	stop := src.runSync(t)
	defer stop()
	src.caughtUpOn(t, src.cl)

	eu, euCl := privateServer(t, "shop_eu", "main")
	cfg := src.cfg
	cfg.Surreal.Servers = euServer(eu, eu.Namespace, eu.Database)
	cfg.Sync.Tables = []config.Table{{Name: "public.audit", Server: "eu"}}
	cfg.Verify.WaitTimeout.Duration = 500 * time.Millisecond
	res, err := backup.Run(ctx, backup.Options{Config: cfg, Dir: t.TempDir(), Log: logger()})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	stop()
	s := res.Manifest.Sync
	if s == nil || s.CaughtUp || len(s.Servers) != 2 || s.Servers[0].Phase != pgsync.PhaseStreaming || s.Servers[1].Server != "eu" || s.Servers[1].Phase != "" {
		t.Fatalf("manifest sync %+v, want not caught up: eu holds no position", s)
	}
	if phase, _ := positionOn(euCl, cfg.Sync.Slot); phase != "" {
		t.Fatalf("the backup wrote a sync position on eu (phase %s)", phase)
	}

	dst, o := restoreTarget(t)
	o.Dir = res.Dir
	o.Config.Surreal.Servers = euServer(eu, "shop_eu_restored", "main")
	rres, err := backup.Restore(ctx, o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	notes := strings.Join(rres.Resume, "\n")
	if !strings.Contains(notes, `servers "eu" held no sync position`) || !strings.Contains(notes, "--resync") {
		t.Fatalf("restore notes:\n%s\nwant eu's missing position and --resync", notes)
	}
	if n := dst.count(t, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", dst.cfg.Sync.Slot); n != 0 {
		t.Fatal("the restore created a replication slot though eu held no sync position")
	}
	if n := len(records(t, dst.cl, "audit")); n != 30 {
		t.Fatalf("restored audit on the default server holds %d records, want 30 (where the backup found them)", n)
	}
}

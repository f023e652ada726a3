package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsurreal/pgsurreal/internal/backup"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

// smallBackup replicates a small dataset and backs it up; it returns the
// backup's directory.
func smallBackup(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	src := newPair(t, "_src")
	src.cfg.Reverse.Tables = nil
	exec1(t, src.pool, `CREATE TABLE customer (id int PRIMARY KEY, name text);
CREATE TABLE "order" (id int PRIMARY KEY, customer_id int REFERENCES customer(id));
INSERT INTO customer SELECT g, 'c' || g FROM generate_series(1, 50) g;
INSERT INTO "order" SELECT g, 1 + g % 50 FROM generate_series(1, 80) g`)
	stop := src.runSync(t)
	src.caughtUp(t)
	res, err := backup.Run(ctx, backup.Options{Config: src.cfg, Dir: t.TempDir(), Log: logger()})
	stop()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res.Dir
}

// target is an empty pair to restore into, and the options to do so with
// replication prepared to resume.
func restoreTarget(t *testing.T) (*pair, backup.Options) {
	t.Helper()
	dst := newPair(t, "_dst")
	dst.cfg.Reverse.Tables = nil
	return dst, backup.Options{Config: dst.cfg, Log: logger(),
		Rebase: func(ctx context.Context) (cdc.LSN, error) { return pgsync.Rebase(ctx, dst.syncOptions()) }}
}

// assertUntouched checks that a refused restore wrote nothing: the
// PostgreSQL database holds only wantRelations relations, SurrealDB only
// the tables in wantTables, and no replication slot was created.
func assertUntouched(t *testing.T, dst *pair, wantRelations int, wantTables ...string) {
	t.Helper()
	if n := pgRelations(t, dst.pool); n != wantRelations {
		t.Fatalf("PostgreSQL target holds %d relations after a refused restore, want %d", n, wantRelations)
	}
	if got := surrealTables(t, dst.cl); strings.Join(got, ",") != strings.Join(wantTables, ",") {
		t.Fatalf("SurrealDB target holds tables %v after a refused restore, want %v", got, wantTables)
	}
	if n := dst.count(t, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", dst.cfg.Sync.Slot); n != 0 {
		t.Fatalf("a refused restore created replication slot %s", dst.cfg.Sync.Slot)
	}
}

func TestRestoreRefusesNonEmptyTargets(t *testing.T) {
	t.Parallel()
	dir := smallBackup(t)
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dst, o := restoreTarget(t)
		exec1(t, dst.pool, `CREATE TABLE intruder (id int)`)
		o.Dir = dir
		_, err := backup.Restore(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "public.intruder") || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "createdb") {
			t.Fatalf("restore into a database holding a table: err = %v, want it refused naming public.intruder and the fix", err)
		}
		t.Logf("refused: %v", err)
		assertUntouched(t, dst, 1)
	})
	t.Run("surreal", func(t *testing.T) {
		t.Parallel()
		dst, o := restoreTarget(t)
		surql(t, dst.cl, "CREATE squatter:1 SET v = 1", nil)
		o.Dir = dir
		_, err := backup.Restore(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "table squatter") || !strings.Contains(err.Error(), dst.cfg.Surreal.Namespace) {
			t.Fatalf("restore into a SurrealDB database holding a table: err = %v, want it refused naming squatter", err)
		}
		t.Logf("refused: %v", err)
		assertUntouched(t, dst, 0, "squatter")
	})
	t.Run("slot taken", func(t *testing.T) {
		t.Parallel()
		dst, o := restoreTarget(t)
		// Another database's sync holds the slot name (names are cluster-wide).
		o.Config.Sync.Slot = backupManifest(t, dir).Sync.Slot
		o.Dir = dir
		_, err := backup.Restore(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "sync.slot") {
			t.Fatalf("restore with a slot name in use: err = %v", err)
		}
		assertUntouched(t, dst, 0)
	})
}

func backupManifest(t *testing.T, dir string) *backup.Manifest {
	t.Helper()
	m, err := backup.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRestoreRefusesDamagedBackups damages copies of a backup in each way
// and checks restore names the problem before writing anything.
func TestRestoreRefusesDamagedBackups(t *testing.T) {
	t.Parallel()
	dir := smallBackup(t)
	m := backupManifest(t, dir)
	var dataFile, export string
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "postgres/") && strings.HasSuffix(f.Path, ".dat.gz") && f.Size > 20 {
			dataFile = f.Path
		}
		if strings.HasSuffix(f.Path, ".surql") {
			export = f.Path
		}
	}
	if dataFile == "" || export == "" {
		t.Fatalf("the backup lists no pg_dump data file or no SurrealDB export: %+v", m.Files)
	}
	cases := []struct {
		name   string
		damage func(dir string)
		want   []string
	}{
		{"truncated", func(d string) {
			p := filepath.Join(d, filepath.FromSlash(dataFile))
			st, _ := os.Stat(p)
			must(t, os.Truncate(p, st.Size()/2))
		}, []string{dataFile, "bytes, the manifest says", "truncated"}},
		{"corrupted byte", func(d string) {
			p := filepath.Join(d, filepath.FromSlash(export))
			b, err := os.ReadFile(p)
			must(t, err)
			b[len(b)/2] ^= 0x01
			must(t, os.WriteFile(p, b, 0o644))
		}, []string{export, "SHA-256", "corrupted"}},
		{"deleted file", func(d string) {
			must(t, os.Remove(filepath.Join(d, "postgres", "toc.dat")))
		}, []string{"postgres/toc.dat is missing"}},
		{"missing manifest", func(d string) {
			must(t, os.Remove(filepath.Join(d, backup.ManifestFile)))
		}, []string{"partial", backup.ManifestFile}},
		{"unreadable manifest", func(d string) {
			must(t, os.WriteFile(filepath.Join(d, backup.ManifestFile), []byte(`{"format": "pgsurreal-backup", "format_`), 0o644))
		}, []string{"manifest", "damaged"}},
		{"newer format", func(d string) {
			p := filepath.Join(d, backup.ManifestFile)
			b, err := os.ReadFile(p)
			must(t, err)
			must(t, os.WriteFile(p, []byte(strings.Replace(string(b), `"format_version": 1`, `"format_version": 99`, 1)), 0o644))
		}, []string{"format version 99"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := copyDir(t, dir)
			c.damage(d)
			dst, o := restoreTarget(t)
			o.Dir = d
			_, err := backup.Restore(context.Background(), o)
			if err == nil {
				t.Fatal("restore of a damaged backup succeeded")
			}
			t.Logf("refused: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err = %v\nwant it to contain %q", err, w)
				}
			}
			assertUntouched(t, dst, 0)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoreNewestOfDirectory restores from the directory of backups:
// the newest complete one, passing over a newer one that did not finish.
func TestRestoreNewestOfDirectory(t *testing.T) {
	t.Parallel()
	dir := smallBackup(t)
	parent := filepath.Dir(dir)
	partial := filepath.Join(parent, "29991231T235959Z")
	must(t, os.MkdirAll(filepath.Join(partial, "postgres"), 0o755))
	dst, o := restoreTarget(t)
	o.Dir = parent
	o.NoResume = true
	res, err := backup.Restore(context.Background(), o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if res.Dir != dir {
		t.Fatalf("restored %s, want the newest complete backup %s", res.Dir, dir)
	}
	if n := dst.count(t, "SELECT count(*) FROM customer"); n != 50 {
		t.Fatalf("restored customer has %d rows, want 50", n)
	}
	if got := len(records(t, dst.cl, "order")); got != 80 {
		t.Fatalf("restored SurrealDB order has %d records, want 80", got)
	}
	if n := dst.count(t, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", dst.cfg.Sync.Slot); n != 0 {
		t.Fatal("--no-resume created a replication slot")
	}
	if !strings.Contains(strings.Join(res.Resume, "\n"), "--no-resume") {
		t.Fatalf("resume notes %v do not mention --no-resume", res.Resume)
	}
}

// TestRestoreReportsFailedImport: a SurrealDB export that does not import
// cleanly (here a statement appended to it, with the manifest updated to
// match) stops the restore with the statement's error and the way out.
func TestRestoreReportsFailedImport(t *testing.T) {
	t.Parallel()
	d := copyDir(t, smallBackup(t))
	m := backupManifest(t, d)
	for i, f := range m.Files {
		if !strings.HasSuffix(f.Path, ".surql") {
			continue
		}
		p := filepath.Join(d, filepath.FromSlash(f.Path))
		b, err := os.ReadFile(p)
		must(t, err)
		b = append(b, "CREATE customer:1 SET again = true;\n"...)
		must(t, os.WriteFile(p, b, 0o600))
		sum := sha256.Sum256(b)
		m.Files[i].Size, m.Files[i].SHA256 = int64(len(b)), hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(m)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(d, backup.ManifestFile), b, 0o600))
	_, o := restoreTarget(t)
	o.Dir = d
	_, err = backup.Restore(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "restore is incomplete") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("restore of an export that does not import: err = %v, want the failed statement, the way out, on one line", err)
	}
	t.Logf("failed: %v", err)
}

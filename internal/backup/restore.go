package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/route"
	"github.com/pgsurreal/pgsurreal/internal/surreal/source"
)

// Restore restores the backup in o.Dir (or the newest complete backup
// among its subdirectories) into the configured PostgreSQL database and
// SurrealDB namespaces/databases, which must be empty. Everything that
// can be checked is checked before anything is written: the manifest,
// every file's size and SHA-256, the targets, and (unless o.NoResume)
// that the sync's slot can be created. Then pg_restore and the SurrealDB
// import run, the restored counts are compared with the manifest's, and
// replication is prepared to resume.
func Restore(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	started := time.Now()
	r := &restorer{o: o}
	defer r.close()
	if err := r.check(ctx); err != nil {
		return nil, fmt.Errorf("%w (nothing was written)", err)
	}
	dir, m := r.dir, r.m
	if err := restorePostgres(ctx, o, r.pool, r.tool, dir, m); err != nil {
		return nil, err
	}
	if err := restoreSurreal(ctx, o, dir, m); err != nil {
		return nil, err
	}
	res := &Result{Dir: dir, Bytes: r.bytes, Files: len(m.Files) + 1, Manifest: m}
	if o.NoResume {
		res.Resume = append(res.Resume, "replication not prepared (--no-resume): the sync and reverse positions are the backup's; start them with `pgsurreal sync --resync` and `pgsurreal reverse --resync` (new copies)")
	} else if err := resume(ctx, o, r.pool, m, r.resumeSync, res); err != nil {
		return res, err
	}
	if m.Sync != nil {
		note := "run `pgsurreal verify` once replication runs: rows changed in PostgreSQL while the backup ran may differ between the two dumps; `pgsurreal verify --repair` reconciles them"
		if !m.Sync.CaughtUp {
			note = "the sync had not caught up with the PostgreSQL dump when SurrealDB was exported (" + m.Sync.LSN + " < " + m.Sync.TargetLSN + "): run `pgsurreal verify --repair` once replication runs, to reconcile the rows in between"
		}
		res.Resume = append(res.Resume, note)
	}
	for _, note := range res.Resume {
		o.Log.Info("restore note", "note", note)
	}
	res.Seconds = time.Since(started).Seconds()
	o.Log.Info("restore finished", "dir", dir, "took", since(started))
	return res, nil
}

// restorer holds what the checks before a restore found.
type restorer struct {
	o     Options
	dir   string
	m     *Manifest
	bytes int64
	tool  string // pg_restore
	pool  *pgxpool.Pool
	// resumeSync: the sync is to be prepared to resume (its slot is free).
	resumeSync bool
}

func (r *restorer) close() {
	if r.pool != nil {
		r.pool.Close()
	}
}

// check does everything that can be done before writing: it finds and
// verifies the backup, finds pg_restore, and checks the targets.
func (r *restorer) check(ctx context.Context) error {
	cfg := r.o.Config
	var err error
	if r.dir, err = findBackup(r.o.Dir); err != nil {
		return err
	}
	if r.m, err = ReadManifest(r.dir); err != nil {
		return err
	}
	t := time.Now()
	if err := checkFiles(r.dir, r.m); err != nil {
		return err
	}
	for _, f := range r.m.Files {
		r.bytes += f.Size
	}
	r.o.Log.Info("backup verified", "dir", r.dir, "created_at", r.m.CreatedAt.Format(time.RFC3339), "files", len(r.m.Files), "bytes", r.bytes, "took", since(t))
	if err := checkServers(cfg.Surreal, r.m); err != nil {
		return err
	}
	if r.tool, err = findTool(cfg.Dev.PGBinDir, "pg_restore"); err != nil {
		return err
	}
	if major, err := toolMajor(ctx, r.tool); err != nil {
		return err
	} else if major < r.m.Postgres.PgDumpMajor {
		return fmt.Errorf("%s is version %d, older than the pg_dump %d that wrote backup %s: install a newer one or set dev.pg_bin_dir", r.tool, major, r.m.Postgres.PgDumpMajor, r.dir)
	}
	if r.pool, err = postgres.Connect(ctx, cfg.Postgres); err != nil {
		return err
	}
	if err := checkEmptyPostgres(ctx, r.pool, cfg.Postgres); err != nil {
		return err
	}
	if err := checkEmptySurreal(ctx, r.o, r.m); err != nil {
		return err
	}
	// A sync still making its first copy left a partial SurrealDB: it
	// copies again rather than resume.
	r.resumeSync = !r.o.NoResume && r.m.Sync.resumable() && r.o.Rebase != nil
	if r.resumeSync {
		if err := checkSlotFree(ctx, r.pool, cfg.Sync.Slot); err != nil {
			return err
		}
	}
	r.o.Log.Info("targets are empty", "postgres", cfg.Postgres.Database, "surreal_exports", len(r.m.Surreal.Exports))
	return nil
}

// findBackup returns dir if it holds a manifest, else the newest of its
// subdirectories that holds one.
func findBackup(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no backup to restore: pass --from DIR")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("backup %s: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("backup %s is not a directory: pass the directory `pgsurreal backup` wrote (or the directory of backups)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return dir, nil
	}
	if looksPartial(dir) {
		return "", fmt.Errorf("backup %s is partial: it has no %s, so the backup did not finish (or the manifest was lost); restore from another backup", dir, ManifestFile)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var complete []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), ManifestFile)); err == nil {
				complete = append(complete, e.Name())
			}
		}
	}
	if len(complete) == 0 {
		return "", fmt.Errorf("%s holds no complete pgsurreal backup (a directory with %s): pass --from a backup directory", dir, ManifestFile)
	}
	// Backup directories are named by their start time.
	slices.SortFunc(complete, compareNames)
	return filepath.Join(dir, complete[len(complete)-1]), nil
}

// looksPartial reports whether dir looks like a backup directory of
// pgsurreal's that lacks its manifest.
func looksPartial(dir string) bool {
	for _, name := range []string{"postgres", "surreal", ManifestFile + ".tmp"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	base, _ := splitName(filepath.Base(dir))
	_, err := time.Parse(DirName, base)
	return err == nil
}

// checkServers refuses a backup holding the export of a SurrealDB server
// the configuration does not define: Restore imports each export into the
// server of the same name.
func checkServers(sc config.Surreal, m *Manifest) error {
	var first error
	var missing []string
	for _, e := range m.Surreal.Exports {
		_, err := e.serverConfig(sc)
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if name := strconv.Quote(e.ServerName()); !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 1 {
		return fmt.Errorf("%w (and likewise for servers %s)", first, strings.Join(missing[1:], ", "))
	}
	return first
}

// checkEmptySurreal refuses a SurrealDB target that holds a table, and
// two exports restored into one namespace/database of one server.
func checkEmptySurreal(ctx context.Context, o Options, m *Manifest) error {
	seen := map[[3]string]string{}
	for _, e := range m.Surreal.Exports {
		srv, ns, db, err := restoreTarget(o.Config, e)
		if err != nil {
			return err
		}
		key := [3]string{publicURL(srv.URL), ns, db}
		from := fmt.Sprintf("%s/%s (server %q)", e.Namespace, e.Database, e.ServerName())
		if other, ok := seen[key]; ok {
			return fmt.Errorf("the exports of %s and %s would both be restored into %s: set the namespace/database of surreal, surreal.servers or the sync.tables entries so they differ", other, from, where(e.ServerName(), srv, ns, db))
		}
		seen[key] = from
		cl, err := connectTo(ctx, srv, ns, db)
		if err != nil {
			return fmt.Errorf("SurrealDB server %q: %w", e.ServerName(), err)
		}
		tables, err := surrealTables(ctx, cl)
		_ = cl.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("SurrealDB server %q: %w", e.ServerName(), err)
		}
		if len(tables) > 0 {
			others := ""
			if len(tables) > 1 {
				others = fmt.Sprintf(" and %d other tables", len(tables)-1)
			}
			return fmt.Errorf("%s is not empty: it holds table %s%s; restore into a new namespace or database (set the namespace or database of surreal or of the server in surreal.servers), or remove it", where(e.ServerName(), srv, ns, db), tables[0], others)
		}
	}
	return nil
}

// restoreTarget is the server (its configuration) and the
// namespace/database the export is restored into.
func restoreTarget(cfg config.Config, e Export) (config.Surreal, string, string, error) {
	srv, err := e.serverConfig(cfg.Surreal)
	if err != nil {
		return config.Surreal{}, "", "", err
	}
	ns, db, err := e.Target(cfg.Surreal, cfg.Sync)
	return srv, ns, db, err
}

// where names a namespace/database of a server in errors.
func where(server string, srv config.Surreal, ns, db string) string {
	return fmt.Sprintf("SurrealDB namespace %q database %q on server %q (%s)", ns, db, server, publicURL(srv.URL))
}

// checkSlotFree refuses a slot name that exists anywhere in the cluster
// (slot names are cluster-wide), or a server that cannot create one.
func checkSlotFree(ctx context.Context, pool *pgxpool.Pool, slot string) error {
	var level, owner string
	var exists bool
	err := pool.QueryRow(ctx, `SELECT current_setting('wal_level'),
  EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
  COALESCE((SELECT database FROM pg_replication_slots WHERE slot_name = $1), '')`, slot).Scan(&level, &exists, &owner)
	if err != nil {
		return fmt.Errorf("checking replication slot %s: %w", slot, err)
	}
	if level != "logical" {
		return fmt.Errorf("PostgreSQL has wal_level = %s, the sync needs logical to resume on the restored database: set wal_level = logical and restart PostgreSQL, or restore with --no-resume", level)
	}
	if exists {
		return fmt.Errorf("replication slot %q already exists in this PostgreSQL cluster (database %q): the sync of the original database may still use it; set sync.slot to a new name for the restored pair (or drop that slot), or restore with --no-resume", slot, owner)
	}
	return nil
}

// restorePostgres runs pg_restore and compares the restored row counts
// with the manifest's.
func restorePostgres(ctx context.Context, o Options, pool *pgxpool.Pool, tool, dir string, m *Manifest) error {
	t := time.Now()
	cfg := o.Config
	jobs := strconv.Itoa(max(1, cfg.Backup.Jobs))
	cmd, stderr := toolCommand(ctx, tool, cfg.Postgres, "--format=directory", "--jobs="+jobs, "--no-owner", "--no-privileges", "--exit-on-error",
		filepath.Join(dir, filepath.FromSlash(m.Postgres.Dir)))
	if err := runTool(cmd, stderr); err != nil {
		return fmt.Errorf("restoring PostgreSQL database %q (it now holds part of the backup: drop it, create it again and restore again): %w", cfg.Postgres.Database, err)
	}
	got, err := countTables(ctx, pool)
	if err != nil {
		return err
	}
	if err := compareCounts(fmt.Sprintf("the restored PostgreSQL database %q differs from the backup", cfg.Postgres.Database), m.Postgres.Tables, got); err != nil {
		return err
	}
	o.Log.Info("pg_restore finished", "database", cfg.Postgres.Database, "jobs", jobs, "tables", len(got), "rows", totalRows(got), "took", since(t))
	return nil
}

// restoreSurreal imports every export into its server and compares the
// restored record counts with the manifest's.
func restoreSurreal(ctx context.Context, o Options, dir string, m *Manifest) error {
	for _, e := range m.Surreal.Exports {
		t := time.Now()
		srv, ns, db, err := restoreTarget(o.Config, e)
		if err != nil {
			return err
		}
		sh, err := newSurrealHTTP(srv)
		if err != nil {
			return fmt.Errorf("SurrealDB server %q: %w", e.ServerName(), err)
		}
		if err := sh.importFile(ctx, ns, db, filepath.Join(dir, filepath.FromSlash(e.File))); err != nil {
			return fmt.Errorf("%w; the restore is incomplete: create PostgreSQL database %q again (dropdb, createdb) and remove the SurrealDB databases restored so far (REMOVE DATABASE; this one: %s), then restore again", err, o.Config.Postgres.Database, where(e.ServerName(), srv, ns, db))
		}
		cl, err := connectTo(ctx, srv, ns, db)
		if err != nil {
			return fmt.Errorf("SurrealDB server %q: %w", e.ServerName(), err)
		}
		names := make([]string, len(e.Tables))
		for i, tc := range e.Tables {
			names[i] = tc.Name
		}
		got, err := countRecords(ctx, cl, names)
		_ = cl.Close(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		if err := compareCounts(fmt.Sprintf("%s differs from the backup's export of %s/%s after the import", where(e.ServerName(), srv, ns, db), e.Namespace, e.Database), e.Tables, got); err != nil {
			return err
		}
		o.Log.Info("surreal import finished", "server", e.ServerName(), "namespace", ns, "database", db, "from", e.Namespace+"/"+e.Database, "tables", len(got), "records", totalRows(got), "took", since(t))
	}
	return nil
}

// resume prepares replication to continue on the restored pair without
// new copies: the sync through o.Rebase (a new slot, its consistent point
// stored as the position), the reverse direction by moving each of its
// positions to SurrealDB's current versionstamp (the import's own writes
// are in the changefeeds and must not be applied again).
func resume(ctx context.Context, o Options, pool *pgxpool.Pool, m *Manifest, resumeSync bool, res *Result) error {
	cfg := o.Config
	switch {
	case resumeSync:
		lsn, err := o.Rebase(ctx)
		if err != nil {
			return fmt.Errorf("both databases are restored, but preparing the sync to resume failed: %w; run `pgsurreal sync --resync` instead (a new copy)", err)
		}
		res.Resume = append(res.Resume, fmt.Sprintf("sync: created replication slot %s at %s and stored that as the sync's position; `pgsurreal sync` streams from there without a new copy", cfg.Sync.Slot, lsn))
	case m.Sync == nil:
		res.Resume = append(res.Resume, "sync: the backup holds no sync position; `pgsurreal sync` will make a first copy")
	case len(m.Sync.missing()) > 0:
		res.Resume = append(res.Resume, fmt.Sprintf("sync: SurrealDB servers %s held no sync position when the backup was taken; `pgsurreal sync --resync` copies everything again", strings.Join(m.Sync.missing(), ", ")))
	case m.Sync.Phase != "streaming":
		res.Resume = append(res.Resume, fmt.Sprintf("sync: it was still making its first copy (phase %s) when the backup was taken, so SurrealDB may be partial; `pgsurreal sync --resync` copies everything again", m.Sync.Phase))
	default:
		res.Resume = append(res.Resume, "sync: not prepared (no rebase function given); run `pgsurreal sync --resync`")
	}
	if len(m.Reverse) == 0 {
		return nil
	}
	table := postgres.QualifiedIdent(cfg.Reverse.Schema, "reverse_position")
	tables := postgres.QualifiedIdent(cfg.Reverse.Schema, "reverse_tables")
	for _, e := range m.Surreal.Exports {
		old := e.Namespace + "/" + e.Database
		// The reverse direction reads the default server alone.
		if e.ServerName() != route.Default || !slices.ContainsFunc(m.Reverse, func(r ReversePosition) bool { return r.Source == old }) {
			continue
		}
		ns, db, err := e.Target(cfg.Surreal, cfg.Sync)
		if err != nil {
			return err
		}
		cl, err := connectTo(ctx, cfg.Surreal, ns, db)
		if err != nil {
			return err
		}
		vs, err := source.Now(ctx, cl, cfg.Reverse.Retention.Duration)
		_ = cl.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("both databases are restored, but taking SurrealDB's versionstamp for the reverse direction failed: %w; run `pgsurreal reverse --resync` instead", err)
		}
		src := ns + "/" + db
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if src != old {
				if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE source = $1", src); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, "UPDATE "+table+" SET source = $1, versionstamp = $2::numeric, checked_at = now() WHERE source = $3", src, strconv.FormatUint(vs, 10), old); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE "+tables+" SET source = $1, start = $2::numeric WHERE source = $3", src, strconv.FormatUint(vs, 10), old)
			return err
		})
		if err != nil {
			return fmt.Errorf("both databases are restored, but moving the reverse direction's position in %s failed: %w; run `pgsurreal reverse --resync` instead", table, err)
		}
		res.Resume = append(res.Resume, fmt.Sprintf("reverse: source %s (was %s) positioned at SurrealDB's versionstamp %d, after the import's own writes; `pgsurreal reverse` streams from there without a new copy", src, old, vs))
	}
	return nil
}

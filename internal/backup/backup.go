package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgsurreal/pgsurreal/internal/buildinfo"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
	"github.com/pgsurreal/pgsurreal/internal/surreal/sink"
)

// Options configure a backup (Run) or a restore (Restore).
type Options struct {
	// Config supplies postgres, surreal, sync (the slot, and the
	// namespaces/databases of sync.tables), reverse (schema, retention),
	// verify.wait_timeout, backup.jobs and dev.pg_bin_dir.
	Config config.Config
	// Dir is, for Run, the directory the new backup's own directory goes
	// into; for Restore, a backup directory, or a directory of backups
	// (the newest complete one is restored).
	Dir string
	Log *slog.Logger
	// NoResume (Restore) leaves replication as the backup had it instead
	// of preparing it to resume on the restored pair.
	NoResume bool
	// Rebase (Restore) prepares the sync to resume on the restored pair
	// without a new copy: it creates the configured slot and stores its
	// consistent point as the sync's position (the CLI passes the sync's
	// Rebase). Nil leaves the sync unprepared.
	Rebase func(ctx context.Context) (cdc.LSN, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is what a backup or a restore did.
type Result struct {
	// Dir is the backup's own directory.
	Dir string `json:"dir"`
	// Bytes and Files are the backup's size and number of files (the
	// manifest included).
	Bytes    int64     `json:"bytes"`
	Files    int       `json:"files"`
	Seconds  float64   `json:"seconds"`
	Manifest *Manifest `json:"manifest"`
	// Removed lists the backups retention removed after this one.
	Removed []string `json:"removed,omitempty"`
	// Resume (Restore) says what was done so replication resumes, and
	// what is left to do.
	Resume []string `json:"resume,omitempty"`
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DirName is the name of a backup's directory: its UTC start time.
const DirName = "20060102T150405Z"

// Run writes a new backup of both databases into a new directory under
// o.Dir and returns it. A failed backup removes its directory.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	if o.Dir == "" {
		return nil, errors.New("no backup directory: set backup.dir or pass --to DIR")
	}
	started, began := o.Now().UTC(), time.Now()
	cfg := o.Config
	dump, err := findTool(cfg.Dev.PGBinDir, "pg_dump")
	if err != nil {
		return nil, err
	}
	dumpMajor, err := toolMajor(ctx, dump)
	if err != nil {
		return nil, err
	}
	snap, err := openSnapshot(ctx, cfg.Postgres)
	if err != nil {
		return nil, err
	}
	defer snap.close(ctx)
	if dumpMajor < snap.major {
		return nil, fmt.Errorf("%s is version %d, older than the PostgreSQL server (%s): pg_dump must be at least as new as the server; install a newer one or set dev.pg_bin_dir", dump, dumpMajor, snap.serverVersion)
	}
	dir, err := newBackupDir(o.Dir, started)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			if err := os.RemoveAll(dir); err != nil {
				o.Log.Warn("could not remove the failed backup's directory", "dir", dir, "err", err)
			}
		}
	}()
	o.Log.Info("backup started", "dir", dir, "postgres", cfg.Postgres.Database, "snapshot_lsn", snap.lsn.String())
	m := &Manifest{
		Format: FormatName, FormatVersion: FormatVersion, PgsurrealVersion: buildinfo.String(), CreatedAt: started,
		Postgres: PostgresDump{ServerVersion: snap.serverVersion, PgDumpMajor: dumpMajor, Database: cfg.Postgres.Database, SnapshotLSN: snap.lsn.String(), Dir: "postgres"},
	}
	// pg_dump, the counts in the snapshot (on the snapshot's own
	// connection) and SurrealDB's export run side by side.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runDump(gctx, o, dump, snap.name, filepath.Join(dir, "postgres")) })
	g.Go(func() error { return countSnapshot(gctx, o, snap, m) })
	g.Go(func() error { return exportSurreal(gctx, o, snap.lsn, dir, m) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The snapshot may end now: pg_dump has read everything.
	snap.close(ctx)

	t := time.Now()
	files, total, err := listFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the backup's files: %w", err)
	}
	m.Files = files
	m.FormatVersion = formatVersion(m)
	if err := writeManifest(dir, m); err != nil {
		return nil, err
	}
	st, err := os.Stat(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	done = true
	res := &Result{Dir: dir, Bytes: total + st.Size(), Files: len(files) + 1, Seconds: time.Since(began).Seconds(), Manifest: m}
	o.Log.Info("backup finished", "dir", dir, "bytes", res.Bytes, "files", res.Files, "checksums_took", since(t), "took", time.Duration(res.Seconds*float64(time.Second)).Round(time.Millisecond).String())
	return res, nil
}

// newBackupDir creates <parent>/<start time>, with -2, -3, ... when a
// backup started in the same second. A backup holds all the data, so only
// its owner may read it (as pg_dump makes its own directory).
func newBackupDir(parent string, started time.Time) (string, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", fmt.Errorf("creating the backup directory: %w", err)
	}
	base := filepath.Join(parent, started.Format(DirName))
	for i := 1; ; i++ {
		dir := base
		if i > 1 {
			dir += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("creating the backup directory: %w", err)
		}
	}
}

// runDump runs pg_dump (directory format, backup.jobs jobs) under the
// exported snapshot.
func runDump(ctx context.Context, o Options, dump, snapshot, out string) error {
	t := time.Now()
	cfg := o.Config
	cmd, stderr := toolCommand(ctx, dump, cfg.Postgres, "--format=directory", "--jobs="+strconv.Itoa(max(1, cfg.Backup.Jobs)),
		"--snapshot="+snapshot, "--file="+out)
	if err := runTool(cmd, stderr); err != nil {
		return fmt.Errorf("dumping PostgreSQL database %q: %w", cfg.Postgres.Database, err)
	}
	size, n, err := dirSize(out)
	if err != nil {
		return err
	}
	o.Log.Info("pg_dump finished", "database", cfg.Postgres.Database, "jobs", max(1, cfg.Backup.Jobs), "files", n, "bytes", size, "took", since(t))
	return nil
}

// countSnapshot counts every table's rows and reads the reverse
// direction's positions, inside the dump's snapshot.
func countSnapshot(ctx context.Context, o Options, snap *pgSnapshot, m *Manifest) error {
	t := time.Now()
	var err error
	if m.Postgres.Tables, err = countTables(ctx, snap.conn); err != nil {
		return err
	}
	if m.Reverse, err = reversePositions(ctx, snap.conn, o.Config.Reverse.Schema); err != nil {
		return err
	}
	o.Log.Info("postgres snapshot counted", "tables", len(m.Postgres.Tables), "rows", totalRows(m.Postgres.Tables), "reverse_positions", len(m.Reverse), "took", since(t))
	return nil
}

// exportSurreal waits (bounded) for the sync to apply PostgreSQL's WAL up
// to the snapshot on every SurrealDB server, records the servers'
// positions, and exports every namespace/database of every server, the
// servers side by side.
func exportSurreal(ctx context.Context, o Options, snapLSN cdc.LSN, dir string, m *Manifest) error {
	cfg := o.Config
	servers, err := surrealServers(cfg.Surreal, cfg.Sync)
	if err != nil {
		return err
	}
	defer disconnect(ctx, servers)
	if err := connect(ctx, servers); err != nil {
		return err
	}
	for _, s := range servers {
		v, err := s.cl.DB.Version(ctx)
		if err != nil {
			return fmt.Errorf("reading the version of SurrealDB server %q (%s): %w", s.name, s.url, err)
		}
		m.Surreal.Servers = append(m.Surreal.Servers, ServerInfo{Name: s.name, URL: s.url, Version: v.Version})
	}
	m.Surreal.Version = m.Surreal.Servers[0].Version
	if m.Sync, err = syncState(ctx, o, servers, snapLSN); err != nil {
		return err
	}
	exports := make([][]Export, len(servers))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range servers {
		g.Go(func() error {
			var err error
			exports[i], err = exportServer(gctx, o, s, dir)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, es := range exports {
		m.Surreal.Exports = append(m.Surreal.Exports, es...)
	}
	return nil
}

// syncState waits (bounded) until every server's stored position passes
// PostgreSQL's WAL position, and returns the positions; nil when no
// server holds one.
func syncState(ctx context.Context, o Options, servers []*surrealServer, snapLSN cdc.LSN) (*SyncState, error) {
	cfg := o.Config
	slot := cfg.Sync.Slot
	before, err := serverPositions(ctx, servers, slot)
	if err != nil {
		return nil, err
	}
	if oldestPosition(before) == nil {
		o.Log.Info("no sync position in SurrealDB: nothing to wait for", "slot", slot)
		return nil, nil
	}
	for i, p := range before {
		if p == nil {
			o.Log.Warn("a SurrealDB server holds no sync position while others do: the sync cannot have caught up on it", "slot", slot, "server", servers[i].name)
		}
	}
	pg, err := postgres.ConnectOne(ctx, cfg.Postgres, nil)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	read := func(ctx context.Context) (*sink.Position, error) {
		ps, err := serverPositions(ctx, servers, slot)
		if err != nil {
			return nil, err
		}
		return oldestPosition(ps), nil
	}
	target, at, ok, err := waitForSync(ctx, pg, read, cfg.Verify.WaitTimeout.Duration)
	_ = pg.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	st := &SyncState{Slot: slot, TargetLSN: target.String(), CaughtUp: ok, WaitedMS: time.Since(t).Milliseconds()}
	if ok {
		o.Log.Info("sync caught up with the snapshot", "slot", slot, "servers", len(servers), "snapshot_lsn", snapLSN.String(), "waited_for", target.String(), "at", at.String(), "took", since(t))
	} else {
		o.Log.Warn("the sync did not catch up with the snapshot within verify.wait_timeout: SurrealDB's export may miss changes the PostgreSQL dump holds; after a restore, `pgsurreal verify --repair` reconciles them",
			"slot", slot, "waited_for", target.String(), "at", at.String(), "wait_timeout", cfg.Verify.WaitTimeout.String())
	}
	after, err := serverPositions(ctx, servers, slot)
	if err != nil {
		return nil, err
	}
	for i, s := range servers {
		p := after[i]
		if p == nil && before[i] != nil {
			return nil, fmt.Errorf("the sync's position (slot %s) disappeared from SurrealDB server %q namespace %q database %q during the backup: was the target reset? Run the backup again", slot, s.name, s.cfg.Namespace, s.cfg.Database)
		}
		sp := ServerPosition{Server: s.name}
		if p != nil {
			sp.Phase, sp.LSN, sp.System = p.Phase, cdc.LSN(p.LSN).String(), p.System
			o.Log.Debug("sync position", "slot", slot, "server", s.name, "phase", p.Phase, "lsn", sp.LSN)
		}
		st.Servers = append(st.Servers, sp)
	}
	pos := oldestPosition(after)
	st.Phase, st.LSN, st.System = pos.Phase, cdc.LSN(pos.LSN).String(), pos.System
	if st.System == "" && after[0] != nil {
		st.System = after[0].System
	}
	return st, nil
}

// exportServer exports every namespace/database of server s.
func exportServer(ctx context.Context, o Options, s *surrealServer, dir string) ([]Export, error) {
	sh, err := newSurrealHTTP(s.cfg)
	if err != nil {
		return nil, fmt.Errorf("SurrealDB server %q: %w", s.name, err)
	}
	var out []Export
	for _, tg := range targets(s.name, s.cfg, o.Config.Sync) {
		e := Export{Server: s.name, URL: s.url, Namespace: tg.ns, Database: tg.db, Default: tg.def, SyncTables: tg.tables,
			OverrideNamespace: tg.overNS, OverrideDatabase: tg.overDB, File: exportFile(s.name, tg.ns, tg.db)}
		if e.Tables, err = exportOne(ctx, o, sh, e, filepath.Join(dir, filepath.FromSlash(e.File))); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// exportOne exports one namespace/database into path and counts its
// records per table.
func exportOne(ctx context.Context, o Options, sh *surrealHTTP, e Export, path string) ([]TableCount, error) {
	t := time.Now()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	ew := newExportWriter(f)
	n, err := sh.export(ctx, e.Namespace, e.Database, ew)
	var tables []TableCount
	if err == nil {
		tables, err = ew.finish()
		if err != nil {
			err = fmt.Errorf("the export of SurrealDB server %q namespace %q database %q is not what SurrealDB exports: %w", e.ServerName(), e.Namespace, e.Database, err)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	o.Log.Info("surreal export finished", "server", e.ServerName(), "namespace", e.Namespace, "database", e.Database, "tables", len(tables), "records", totalRows(tables), "bytes", n, "took", since(t))
	return tables, nil
}

// since is a duration for logs, rounded to the millisecond.
func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

func totalRows(ts []TableCount) int64 {
	var n int64
	for _, t := range ts {
		n += t.Rows
	}
	return n
}

// dirSize sums the sizes of the files under dir.
func dirSize(dir string) (size int64, files int, err error) {
	err = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size += info.Size()
		files++
		return nil
	})
	return size, files, err
}

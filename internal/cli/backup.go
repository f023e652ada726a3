package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/backup"
	"github.com/pgsurreal/pgsurreal/internal/cdc"
	"github.com/pgsurreal/pgsurreal/internal/config"
	pgsync "github.com/pgsurreal/pgsurreal/internal/sync"
)

func (a *app) backupCommand() *cobra.Command {
	var to, maxAge string
	var keep int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "backup [--to DIR]",
		Short: "Back up PostgreSQL and SurrealDB together, with a manifest; then apply retention",
		Long: `backup writes a coordinated backup of both databases into a new directory
DIR/<UTC time> (DIR: --to, else backup.dir): pg_dump (directory format,
backup.jobs jobs) of postgres.database under an exported snapshot whose WAL
position is known; after giving the sync until verify.wait_timeout to apply
PostgreSQL's changes up to that position on every SurrealDB server, the
SurrealDB export of surreal.namespace/database and of every namespace/database
sync.tables names, on the default server and on each server of surreal.servers
that holds a table; and manifest.json, written last (versions, the servers,
the LSN, each server's sync position and the reverse direction's positions,
row and record counts, the size and SHA-256 of every file). Then it removes
old backups: it keeps the newest --keep (backup.keep) and removes those older
than --max-age (backup.max_age), never the newest.
See docs/backup.md.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			dir := to
			if dir == "" {
				dir = a.cfg.Backup.Dir
			}
			if dir == "" {
				return usagef("no backup directory: pass --to DIR or set backup.dir")
			}
			if cmd.Flags().Changed("keep") {
				if keep < 0 {
					return usagef("--keep %d: give 0 (keep any number) or more", keep)
				}
				a.cfg.Backup.Keep = keep
			}
			switch maxAge {
			case "":
			case "0":
				a.cfg.Backup.MaxAge = config.Duration{}
			default:
				var d config.Duration
				if err := d.UnmarshalText([]byte(maxAge)); err != nil || d.Duration < 0 {
					return usagef("--max-age %q is not a duration such as 720h (0 for no age limit)", maxAge)
				}
				a.cfg.Backup.MaxAge = d
			}
			return a.runBackup(cmd.Context(), dir, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "directory of backups (default backup.dir); the backup goes into a new subdirectory")
	f.IntVar(&keep, "keep", 0, "how many backups to keep, newest first, this one included (default backup.keep; 0 keeps any number)")
	f.StringVar(&maxAge, "max-age", "", "remove backups older than this, e.g. 720h (default backup.max_age; 0 for no limit)")
	f.BoolVar(&asJSON, "json", false, "print the result (with the manifest) as JSON")
	return cmd
}

func (a *app) runBackup(ctx context.Context, dir string, asJSON bool) error {
	res, err := backup.Run(ctx, backup.Options{Config: a.cfg, Dir: dir, Log: a.log})
	if err != nil {
		return err
	}
	removed, err := backup.Prune(dir, a.cfg.Backup.Keep, a.cfg.Backup.MaxAge.Duration, time.Now())
	res.Removed = removed
	for _, r := range removed {
		a.log.Info("retention removed a backup", "dir", r)
	}
	if err != nil {
		err = fmt.Errorf("the backup %s is complete, but retention failed: %w", res.Dir, err)
	}
	if asJSON {
		if jerr := backupJSON(a, res); jerr != nil {
			return jerr
		}
		return err
	}
	fmt.Fprintf(a.stdout, "backup %s: %d files, %d bytes in %s\n", res.Dir, res.Files, res.Bytes, backupTook(res.Seconds))
	m := res.Manifest
	fmt.Fprintf(a.stdout, "  postgres %s: %d tables, %d rows, snapshot at %s\n", m.Postgres.Database, len(m.Postgres.Tables), backupRows(m.Postgres.Tables), m.Postgres.SnapshotLSN)
	for _, e := range m.Surreal.Exports {
		fmt.Fprintf(a.stdout, "  surreal %s/%s on server %s%s: %d tables, %d records\n", e.Namespace, e.Database, e.ServerName(), backupURL(e.URL), len(e.Tables), backupRows(e.Tables))
	}
	every := ""
	if s := m.Sync; s != nil && len(s.Servers) > 1 {
		every = " on every server"
	}
	switch s := m.Sync; {
	case s == nil:
		fmt.Fprintln(a.stdout, "  sync: no stored position")
	case s.CaughtUp:
		fmt.Fprintf(a.stdout, "  sync %s: caught up%s (at %s, the snapshot needed %s)\n", s.Slot, every, s.LSN, s.TargetLSN)
	default:
		fmt.Fprintf(a.stdout, "  sync %s: NOT caught up%s within verify.wait_timeout (at %s, the snapshot needed %s): after a restore, run `pgsurreal verify --repair`\n", s.Slot, every, s.LSN, s.TargetLSN)
	}
	if s := m.Sync; s != nil && len(s.Servers) > 1 {
		for _, p := range s.Servers {
			at := "no stored position"
			if p.Phase != "" {
				at = p.Phase + " at " + p.LSN
			}
			fmt.Fprintf(a.stdout, "    server %s: %s\n", p.Server, at)
		}
	}
	for _, r := range removed {
		fmt.Fprintf(a.stdout, "  removed by retention: %s\n", r)
	}
	return err
}

func (a *app) restoreCommand() *cobra.Command {
	var from string
	var noResume, asJSON bool
	cmd := &cobra.Command{
		Use:   "restore --from DIR",
		Short: "Restore both databases from a backup into empty targets, ready for replication to resume",
		Long: `restore restores the backup in DIR (or the newest complete backup in the
directory of backups DIR) into postgres.database and surreal.namespace/database
(and the namespaces/databases sync.tables names), each SurrealDB server's
exports into the server of the same name (default, or one of surreal.servers).
Before it writes anything it checks the manifest, the size and SHA-256 of
every file, that the configuration defines every server the backup holds, and
that the PostgreSQL database has no relations and each SurrealDB database no
tables: a damaged or partial backup, a missing server, or a target that is
not empty, is refused. It then runs pg_restore and the SurrealDB import,
compares the row and record counts with the manifest, and prepares
replication to resume without a new copy: it creates the sync.slot
replication slot and stores its position on every SurrealDB server, and
moves the reverse direction's positions to SurrealDB's current
versionstamp. --no-resume leaves that undone. See docs/backup.md.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usagef("give the backup with --from DIR (a backup directory, or a directory of backups: the newest is restored)")
			}
			if err := a.load(); err != nil {
				return err
			}
			return a.runRestore(cmd.Context(), from, noResume, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "backup directory, or directory of backups (the newest complete one is restored)")
	f.BoolVar(&noResume, "no-resume", false, "do not prepare replication to resume (no slot; positions left as backed up)")
	f.BoolVar(&asJSON, "json", false, "print the result (with the manifest) as JSON")
	return cmd
}

func (a *app) runRestore(ctx context.Context, from string, noResume, asJSON bool) error {
	o := backup.Options{Config: a.cfg, Dir: from, Log: a.log, NoResume: noResume,
		Rebase: func(ctx context.Context) (cdc.LSN, error) { return pgsync.Rebase(ctx, a.syncOptions()) }}
	res, err := backup.Restore(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		return backupJSON(a, res)
	}
	m := res.Manifest
	fmt.Fprintf(a.stdout, "restored %s (taken %s) in %s\n", res.Dir, m.CreatedAt.Format(time.RFC3339), backupTook(res.Seconds))
	fmt.Fprintf(a.stdout, "  postgres %s: %d tables, %d rows\n", a.cfg.Postgres.Database, len(m.Postgres.Tables), backupRows(m.Postgres.Tables))
	for _, e := range m.Surreal.Exports {
		ns, db, _ := e.Target(a.cfg.Surreal, a.cfg.Sync)
		from := e.Namespace + "/" + e.Database
		if e.URL != "" {
			from += " at " + e.URL
		}
		fmt.Fprintf(a.stdout, "  surreal %s/%s on server %s (backed up from %s): %d tables, %d records\n", ns, db, e.ServerName(), from, len(e.Tables), backupRows(e.Tables))
	}
	for _, r := range res.Resume {
		fmt.Fprintf(a.stdout, "  %s\n", r)
	}
	return nil
}

func backupJSON(a *app, v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// backupURL is where an export's server was, for the summary; manifests
// written before several servers have none.
func backupURL(u string) string {
	if u == "" {
		return ""
	}
	return " (" + u + ")"
}

func backupRows(ts []backup.TableCount) int64 {
	var n int64
	for _, t := range ts {
		n += t.Rows
	}
	return n
}

func backupTook(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/route"
)

// The manifest's name and format. A reader refuses another format or a
// newer version rather than guess at it. FormatVersion is the newest this
// pgsurreal reads and writes: version 2 added the SurrealDB servers other
// than the default (Export.Server, SyncState.Servers). A backup of the
// default server alone is written as version 1, which older pgsurreal
// versions still restore; one of several servers as version 2, which they
// refuse rather than import every server's data into one.
const (
	ManifestFile  = "manifest.json"
	FormatName    = "pgsurreal-backup"
	FormatVersion = 2
)

// formatVersion is the oldest format version that describes m.
func formatVersion(m *Manifest) int {
	for _, e := range m.Surreal.Exports {
		if e.ServerName() != route.Default {
			return 2
		}
	}
	return 1
}

// Manifest describes one backup; it is written last, so a backup
// directory holding it is complete.
type Manifest struct {
	Format           string `json:"format"`
	FormatVersion    int    `json:"format_version"`
	PgsurrealVersion string `json:"pgsurreal_version"`
	// CreatedAt is when the backup started (UTC).
	CreatedAt time.Time      `json:"created_at"`
	Postgres  PostgresDump   `json:"postgres"`
	Surreal   SurrealExports `json:"surreal"`
	// Sync is the sync's stored position; nil when SurrealDB held none.
	Sync *SyncState `json:"sync,omitempty"`
	// Reverse lists the reverse direction's positions found in PostgreSQL.
	Reverse []ReversePosition `json:"reverse,omitempty"`
	// Files lists every file of the backup but the manifest.
	Files []File `json:"files"`
}

// PostgresDump is the pg_dump part of a backup.
type PostgresDump struct {
	ServerVersion string `json:"server_version"`
	// PgDumpMajor is the major version of the pg_dump that wrote the
	// dump; pg_restore must be at least as new.
	PgDumpMajor int    `json:"pg_dump_major"`
	Database    string `json:"database"`
	// SnapshotLSN is PostgreSQL's WAL position read in the dump's
	// snapshot: every transaction the dump holds committed before it.
	SnapshotLSN string `json:"snapshot_lsn"`
	// Dir is pg_dump's output directory, relative to the backup.
	Dir string `json:"dir"`
	// Tables are the rows of every table in the dump, counted in its
	// snapshot.
	Tables []TableCount `json:"tables"`
}

// TableCount is the number of rows (PostgreSQL) or records (SurrealDB)
// of one table.
type TableCount struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// SurrealExports is the SurrealDB part of a backup.
type SurrealExports struct {
	// Version is the default server's SurrealDB version.
	Version string `json:"version"`
	// Servers are the servers exported, the default first (absent in
	// manifests written before several servers).
	Servers []ServerInfo `json:"servers,omitempty"`
	Exports []Export     `json:"exports"`
}

// ServerInfo is one SurrealDB server a backup exported.
type ServerInfo struct {
	// Name is "default" (the surreal section) or a name of surreal.servers;
	// Restore imports into the server of the same name.
	Name string `json:"name"`
	// URL is where it was, without credentials.
	URL     string `json:"url"`
	Version string `json:"version"`
}

// Export is the export of one SurrealDB namespace/database.
type Export struct {
	// Server is the SurrealDB server the export came from, and URL where
	// it was (without credentials); a manifest written before several
	// servers names none, which is the default (ServerName).
	Server    string `json:"server,omitempty"`
	URL       string `json:"url,omitempty"`
	Namespace string `json:"namespace"`
	Database  string `json:"database"`
	// Default marks the export of the server's own namespace/database
	// (surreal.namespace/database for the default server); any other is
	// the namespace/database of the sync.tables entries for SyncTables, whose namespace and database were OverrideNamespace
	// and OverrideDatabase (an empty one stands for surreal's). See
	// Target for where Restore puts each.
	Default           bool     `json:"default"`
	SyncTables        []string `json:"sync_tables,omitempty"`
	OverrideNamespace string   `json:"override_namespace,omitempty"`
	OverrideDatabase  string   `json:"override_database,omitempty"`
	// File is the SurrealQL export, relative to the backup.
	File string `json:"file"`
	// Tables are the records of every table in the export, counted in it.
	Tables []TableCount `json:"tables"`
}

// SyncState is the sync's position when SurrealDB was exported: with
// several servers, where the sync as a whole was (the oldest of the
// servers' positions, as the sync resumes), and each server's.
type SyncState struct {
	Slot   string `json:"slot"`
	Phase  string `json:"phase"`
	LSN    string `json:"lsn"`
	System string `json:"system,omitempty"`
	// Servers are the positions each server stored (absent in manifests
	// written before several servers).
	Servers []ServerPosition `json:"servers,omitempty"`
	// TargetLSN is the WAL position the backup waited for the sync to
	// apply on every server (taken after the snapshot); CaughtUp says
	// whether it did within verify.wait_timeout, so SurrealDB's exports
	// hold everything the PostgreSQL dump holds.
	TargetLSN string `json:"target_lsn"`
	CaughtUp  bool   `json:"caught_up"`
	WaitedMS  int64  `json:"waited_ms"`
}

// ServerPosition is the sync's position one SurrealDB server stored;
// Phase and LSN are empty when it stored none.
type ServerPosition struct {
	Server string `json:"server"`
	Phase  string `json:"phase,omitempty"`
	LSN    string `json:"lsn,omitempty"`
	System string `json:"system,omitempty"`
}

// resumable reports whether the sync was streaming on every server when
// the backup was taken, so it can resume on the restored servers without
// a new copy.
func (s *SyncState) resumable() bool {
	if s == nil || s.Phase != phaseStreaming {
		return false
	}
	for _, p := range s.Servers {
		if p.Phase != phaseStreaming {
			return false
		}
	}
	return true
}

// missing lists the servers that stored no position.
func (s *SyncState) missing() []string {
	var out []string
	for _, p := range s.Servers {
		if p.Phase == "" {
			out = append(out, strconv.Quote(p.Server))
		}
	}
	return out
}

// ReversePosition is a row of <reverse.schema>.reverse_position.
type ReversePosition struct {
	Source       string    `json:"source"`
	Versionstamp string    `json:"versionstamp"`
	CheckedAt    time.Time `json:"checked_at"`
}

// File is one file of a backup.
type File struct {
	// Path is relative to the backup directory, with / separators.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// writeManifest writes m into dir atomically: a temporary file, synced,
// renamed into place, and the directory synced.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ManifestFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing the manifest: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// errNoManifest is returned by ReadManifest for a directory without one.
var errNoManifest = errors.New("no manifest")

// ReadManifest reads and checks the manifest of the backup in dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, errNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of backup %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the manifest %s is damaged (%v): restore from another backup", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != FormatName {
		return nil, fmt.Errorf("%s is not a pgsurreal backup manifest (format %q): point --from at a directory `pgsurreal backup` wrote", filepath.Join(dir, ManifestFile), m.Format)
	}
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("backup %s has manifest format version %d, this pgsurreal reads version %d: restore it with the pgsurreal version that wrote it (%s)", dir, m.FormatVersion, FormatVersion, m.PgsurrealVersion)
	}
	return &m, nil
}

// listFiles hashes every file under dir except the manifest, in path
// order, and returns them with their total size.
func listFiles(dir string) ([]File, int64, error) {
	var out []File
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestFile || rel == ManifestFile+".tmp" {
			return nil
		}
		size, sum, err := hashFile(path)
		if err != nil {
			return err
		}
		out = append(out, File{Path: rel, Size: size, SHA256: sum})
		total += size
		return nil
	})
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, total, err
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkFiles compares every file the manifest lists with what dir holds:
// present, of the listed size and SHA-256. The error names the first file
// that differs.
func checkFiles(dir string, m *Manifest) error {
	if len(m.Files) == 0 {
		return fmt.Errorf("the manifest of backup %s lists no files: it is damaged; restore from another backup", dir)
	}
	// The parts restore reads must be among the files checked.
	parts := []string{m.Postgres.Dir + "/toc.dat"}
	what := map[string]string{}
	for _, e := range m.Surreal.Exports {
		parts = append(parts, e.File)
		what[e.File] = fmt.Sprintf(" (the export of SurrealDB server %q namespace %q database %q)", e.ServerName(), e.Namespace, e.Database)
	}
	for _, p := range parts {
		if !slices.ContainsFunc(m.Files, func(f File) bool { return f.Path == p }) {
			return fmt.Errorf("the manifest of backup %s does not list %s, a part of the backup: it is damaged or not pgsurreal's; restore from another backup", dir, p)
		}
	}
	for _, f := range m.Files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return fmt.Errorf("the manifest of backup %s lists %q, a path outside the backup: it is damaged or not pgsurreal's; restore from another backup", dir, f.Path)
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("backup %s is incomplete: %s%s is missing; copy the whole backup directory again, or restore from another backup", dir, f.Path, what[f.Path])
		}
		if err != nil {
			return fmt.Errorf("backup %s: %w", dir, err)
		}
		if st.Size() != f.Size {
			return fmt.Errorf("backup %s is damaged: %s%s is %d bytes, the manifest says %d (truncated or changed since the backup); copy it again from the original, or restore from another backup", dir, f.Path, what[f.Path], st.Size(), f.Size)
		}
		_, sum, err := hashFile(path)
		if err != nil {
			return fmt.Errorf("backup %s: %w", dir, err)
		}
		if sum != f.SHA256 {
			return fmt.Errorf("backup %s is damaged: the SHA-256 of %s%s is %s, the manifest says %s (corrupted since the backup); copy it again from the original, or restore from another backup", dir, f.Path, what[f.Path], sum, f.SHA256)
		}
	}
	return nil
}

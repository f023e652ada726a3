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
	"strings"
	"time"
)

// The manifest's name and format. A reader refuses another format or a
// newer version rather than guess at it.
const (
	ManifestFile  = "manifest.json"
	FormatName    = "pgsurreal-backup"
	FormatVersion = 1
)

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
	Version string   `json:"version"`
	Exports []Export `json:"exports"`
}

// Export is the export of one SurrealDB namespace/database.
type Export struct {
	Namespace string `json:"namespace"`
	Database  string `json:"database"`
	// Default marks the export of surreal.namespace/database; any other
	// is the namespace/database of the sync.tables entries for
	// SyncTables, whose namespace and database were OverrideNamespace
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

// SyncState is the sync's position when SurrealDB was exported.
type SyncState struct {
	Slot   string `json:"slot"`
	Phase  string `json:"phase"`
	LSN    string `json:"lsn"`
	System string `json:"system,omitempty"`
	// TargetLSN is the WAL position the backup waited for the sync to
	// apply (taken after the snapshot); CaughtUp says whether it did
	// within verify.wait_timeout, so SurrealDB's export holds everything
	// the PostgreSQL dump holds.
	TargetLSN string `json:"target_lsn"`
	CaughtUp  bool   `json:"caught_up"`
	WaitedMS  int64  `json:"waited_ms"`
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
	for _, e := range m.Surreal.Exports {
		parts = append(parts, e.File)
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
			return fmt.Errorf("backup %s is incomplete: %s is missing; copy the whole backup directory again, or restore from another backup", dir, f.Path)
		}
		if err != nil {
			return fmt.Errorf("backup %s: %w", dir, err)
		}
		if st.Size() != f.Size {
			return fmt.Errorf("backup %s is damaged: %s is %d bytes, the manifest says %d (truncated or changed since the backup); copy it again from the original, or restore from another backup", dir, f.Path, st.Size(), f.Size)
		}
		_, sum, err := hashFile(path)
		if err != nil {
			return fmt.Errorf("backup %s: %w", dir, err)
		}
		if sum != f.SHA256 {
			return fmt.Errorf("backup %s is damaged: the SHA-256 of %s is %s, the manifest says %s (corrupted since the backup); copy it again from the original, or restore from another backup", dir, f.Path, sum, f.SHA256)
		}
	}
	return nil
}

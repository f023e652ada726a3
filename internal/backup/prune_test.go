package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/backup"
)

var pruneNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// layout creates backups in a fresh directory: for each name, a complete
// backup created age before pruneNow (age < 0: a partial one, no
// manifest); plus an unrelated directory, a file, and a backup whose
// manifest cannot be read.
func layout(t *testing.T, backups map[string]time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	for name, age := range backups {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(d, "postgres"), 0o755); err != nil {
			t.Fatal(err)
		}
		if age < 0 {
			continue
		}
		m := backup.Manifest{Format: backup.FormatName, FormatVersion: backup.FormatVersion, CreatedAt: pruneNow.Add(-age)}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(d, backup.ManifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"notes", "20200101T000000Z-broken"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "20200101T000000Z-broken", backup.ManifestFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func remaining(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestPrune(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	backups := map[string]time.Duration{
		"20261203T110000Z":   1 * time.Hour,
		"20261202T120000Z":   1 * day,
		"20261201T120000Z":   2 * day,
		"20261201T120000Z-2": 2*day - time.Second, // same second's second backup, a second later
		"20261120T120000Z":   13 * day,
		"20261130T000000Z":   -1, // crashed before the newest finished
		"20261203T115900Z":   -1, // partial, newer than the newest complete: maybe running
	}
	cases := []struct {
		name    string
		keep    int
		maxAge  time.Duration
		backups map[string]time.Duration
		removed []string
	}{
		{"keep 3", 3, 0, backups, []string{"20261120T120000Z", "20261130T000000Z", "20261201T120000Z"}},
		{"keep 1", 1, 0, backups, []string{"20261120T120000Z", "20261130T000000Z", "20261201T120000Z", "20261201T120000Z-2", "20261202T120000Z"}},
		{"max age 36h", 0, 36 * time.Hour, backups, []string{"20261120T120000Z", "20261130T000000Z", "20261201T120000Z", "20261201T120000Z-2"}},
		{"keep and age", 10, 7 * day, backups, []string{"20261120T120000Z", "20261130T000000Z"}},
		{"no limits: only the crashed one", 0, 0, backups, []string{"20261130T000000Z"}},
		{"the newest stays whatever its age", 0, time.Hour, map[string]time.Duration{"20261101T000000Z": 30 * day, "20261001T000000Z": 60 * day}, []string{"20261001T000000Z"}},
		{"no complete backup: nothing removed", 1, time.Hour, map[string]time.Duration{"20261101T000000Z": -1}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := layout(t, c.backups)
			removed, err := backup.Prune(dir, c.keep, c.maxAge, pruneNow)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range removed {
				if filepath.Dir(r) != dir {
					t.Fatalf("removed %s, outside %s", r, dir)
				}
				names = append(names, filepath.Base(r))
			}
			slices.Sort(names)
			if !slices.Equal(names, c.removed) {
				t.Fatalf("removed %v, want %v", names, c.removed)
			}
			left := remaining(t, dir)
			for _, n := range c.removed {
				if slices.Contains(left, n) {
					t.Fatalf("%s is still there", n)
				}
			}
			for _, n := range []string{"notes", "README", "20200101T000000Z-broken"} {
				if !slices.Contains(left, n) {
					t.Fatalf("prune removed %s, which is not a complete or crashed backup", n)
				}
			}
			if len(left) != len(c.backups)+3-len(c.removed) {
				t.Fatalf("left %v", left)
			}
		})
	}
}

func TestPruneMissingDirectory(t *testing.T) {
	t.Parallel()
	if _, err := backup.Prune(filepath.Join(t.TempDir(), "nope"), 1, 0, pruneNow); err == nil {
		t.Fatal("pruning a directory that does not exist succeeded")
	}
}

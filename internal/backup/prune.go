package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Prune applies retention to the backups in dir: of the subdirectories
// holding a complete pgsurreal manifest it keeps the keep newest (0: any
// number) and removes those created more than maxAge before now (0: no
// age limit), but never the newest. A subdirectory named like a backup
// (its start time) that has no manifest and started before the newest
// complete backup is a backup that crashed, and is removed too. Nothing
// else in dir is touched: other files and directories, a backup whose
// manifest cannot be read, or a partial backup newer than the newest
// complete one (it may still be running). It returns the directories it
// removed.
func Prune(dir string, keep int, maxAge time.Duration, now time.Time) (removed []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pruning backups in %s: %w", dir, err)
	}
	type backup struct {
		path    string
		created time.Time
	}
	var complete []backup
	var partial []backup
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m, err := ReadManifest(path)
		switch {
		case err == nil:
			complete = append(complete, backup{path, m.CreatedAt})
		case errors.Is(err, errNoManifest):
			base, _ := splitName(e.Name())
			if started, perr := time.Parse(DirName, base); perr == nil {
				partial = append(partial, backup{path, started})
			}
		}
	}
	if len(complete) == 0 {
		return nil, nil
	}
	// Newest first; equal times by name, as names break ties (-2, -3).
	slices.SortFunc(complete, func(a, b backup) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return compareNames(b.path, a.path)
	})
	var doomed []string
	for i, b := range complete {
		if i == 0 {
			continue
		}
		if (keep > 0 && i >= keep) || (maxAge > 0 && now.Sub(b.created) > maxAge) {
			doomed = append(doomed, b.path)
		}
	}
	newest := complete[0].created
	for _, p := range partial {
		// Names have second precision; the newest backup's directory may
		// be named for the same second as a crashed one's.
		if p.created.Before(newest.Truncate(time.Second)) {
			doomed = append(doomed, p.path)
		}
	}
	var errs []error
	for _, p := range doomed {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("removing backup %s: %w", p, err))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// compareNames orders backup directory paths by name, so that name-2
// comes after name and name-10 after name-9 (backups started in the same
// second).
func compareNames(a, b string) int {
	ba, na := splitName(filepath.Base(a))
	bb, nb := splitName(filepath.Base(b))
	if c := strings.Compare(ba, bb); c != 0 {
		return c
	}
	return na - nb
}

// splitName splits a backup directory's name into its start time and
// its number among the backups started in that second (1, 2, ...).
func splitName(name string) (string, int) {
	base, num, ok := strings.Cut(name, "-")
	if !ok {
		return name, 1
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 2 {
		return name, 1
	}
	return base, n
}

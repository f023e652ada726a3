package maintenance

import (
	"maps"
	"slices"
)

// Names of Outcome.Details that the jobs pgsurreal schedules report, so the
// API and dashboards see the same words for the same numbers.
const (
	// DetailDifferences is the total of Outcome.Differences; the scheduler
	// sets it, so the two always agree.
	DetailDifferences = "differences"
	// DetailTables is the number of tables a verify compared or a backup
	// holds.
	DetailTables = "tables"
	// DetailRepaired is the number of records a verify repaired.
	DetailRepaired = "repaired"
	// DetailBytes is a backup's size on disk; the scheduler sets it from
	// Outcome.Backup.
	DetailBytes = "bytes"
	// DetailRemoved is the number of old backups retention removed.
	DetailRemoved = "removed"
)

// Outcome is what one run found or made. A job returns it with or without
// an error: with an error it may describe the work done before the
// failure, and is kept in the history but sets no verify or backup metric.
type Outcome struct {
	// Summary is one line for people: "12 tables, 3 differences in
	// public.orders", "backup 2025-03-11T03:00:00Z, 1.2 GiB, 2 old ones
	// removed".
	Summary string `json:"summary"`
	// Details are the numbers worth keeping, by name (the Detail*
	// constants, or any other).
	Details map[string]float64 `json:"details,omitempty"`
	// Differences is a verify's count of records that differ, per table
	// ("public.orders"), listing every table it compared, 0 for one that
	// agrees. Non-nil marks the outcome as a verify's: it replaces the
	// values of pgsurreal_verify_differences, and a total above zero is
	// drift, logged at error level. With repair on it still counts the
	// differences found (DetailRepaired says how many were fixed): drift
	// means something wrote around replication, which an operator should
	// hear of even when it was repaired.
	Differences map[string]int64 `json:"differences,omitempty"`
	// Backup is set by a backup: where it went and how big it is; it sets
	// pgsurreal_backup_last_size_bytes.
	Backup *BackupResult `json:"backup,omitempty"`
}

// BackupResult is where a backup went and its size.
type BackupResult struct {
	// Dir is the backup's own directory (under backup.dir).
	Dir string `json:"dir"`
	// Bytes is the size of every file in Dir.
	Bytes int64 `json:"bytes"`
}

// Drift is the total number of differences a verify reported.
func (o Outcome) Drift() int64 {
	var n int64
	for _, d := range o.Differences {
		n += d
	}
	return n
}

// DriftTables lists the tables with differences, sorted.
func (o Outcome) DriftTables() []string {
	var tables []string
	for t, d := range o.Differences {
		if d > 0 {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	return tables
}

// clone copies the maps, so a job that keeps using its own maps after
// returning cannot change the history, and adds the details derived from
// Differences and Backup.
func (o Outcome) clone() Outcome {
	c := Outcome{Summary: o.Summary, Details: maps.Clone(o.Details), Differences: maps.Clone(o.Differences)}
	if o.Backup != nil {
		b := *o.Backup
		c.Backup = &b
	}
	if c.Differences != nil {
		c.setDetail(DetailDifferences, float64(c.Drift()))
	}
	if c.Backup != nil {
		c.setDetail(DetailBytes, float64(c.Backup.Bytes))
	}
	return c
}

func (o *Outcome) setDetail(name string, v float64) {
	if o.Details == nil {
		o.Details = map[string]float64{}
	}
	o.Details[name] = v
}

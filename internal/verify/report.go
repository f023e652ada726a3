package verify

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Kinds of difference.
const (
	// Missing: the source has the row, the replica has no record (or row).
	Missing = "missing"
	// Extra: the replica has a record (or row) the source does not.
	Extra = "extra"
	// Different: both have it, with different content.
	Different = "different"
)

// Difference is one confirmed difference between a source row and its
// replica.
type Difference struct {
	// Table is where the replica lives: a SurrealDB table (forward
	// tables, their edge tables) or a PostgreSQL table (reverse tables).
	Table string `json:"table"`
	// Key is the row's key as text: the record id for SurrealDB, the
	// key columns for PostgreSQL.
	Key  string `json:"key"`
	Kind string `json:"kind"`
	// Server is the SurrealDB server of the record, for a table placed
	// on servers other than the default one (sync.tables[].server,
	// .partition): the server holding the extra record, the server
	// missing the record or holding it different.
	Server string `json:"server,omitempty"`
	// Fields are the fields (SurrealDB) or columns (PostgreSQL) whose
	// values differ, for Kind Different.
	Fields []string `json:"fields,omitempty"`
	// Source and Replica show the two values of Different, rendered.
	Source  string `json:"source,omitempty"`
	Replica string `json:"replica,omitempty"`

	cand candidate // the source key, for repair
	// misplaced: an extra record on a server its rule does not name.
	misplaced bool
}

// TableReport is what verify found for one replicated table.
type TableReport struct {
	// Table is the source table: schema.name in PostgreSQL (direction
	// postgres) or the SurrealDB table (direction surreal).
	Table string `json:"table"`
	// Direction names the source of truth: "postgres" (PostgreSQL rows
	// replicated into SurrealDB) or "surreal" (SurrealDB records
	// replicated into PostgreSQL).
	Direction string `json:"direction"`
	// Replica is the replica table(s): "order", "order, placed_by".
	Replica string `json:"replica"`
	// Servers are the SurrealDB servers holding the replica, for a table
	// placed on servers other than the default one.
	Servers []string `json:"servers,omitempty"`
	// SourceRows and ReplicaRows count what was read on each side (the
	// main table; edge records are counted in ReplicaRows too).
	SourceRows  int64 `json:"source_rows"`
	ReplicaRows int64 `json:"replica_rows"`
	// Chunks were compared by checksum; ChunksDiffering were then
	// compared row by row.
	Chunks          int `json:"chunks"`
	ChunksDiffering int `json:"chunks_differing"`
	// Sampled is the share of rows compared when less than all.
	SampledPercent int          `json:"sampled_percent,omitempty"`
	Differences    []Difference `json:"differences"`
	// Unsettled are keys that kept changing through every re-check:
	// neither confirmed nor cleared.
	Unsettled []string `json:"unsettled,omitempty"`
	// Repaired counts the keys rewritten from the source; StillDifferent
	// those a re-verify after the repair still found different.
	Repaired       int     `json:"repaired,omitempty"`
	StillDifferent int     `json:"still_different,omitempty"`
	Seconds        float64 `json:"seconds"`
}

// Report is the result of one verify run.
type Report struct {
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Tables   []TableReport `json:"tables"`
	// Notes say what limits the result, e.g. that replication was not
	// running, so differences include changes not yet replicated.
	Notes []string `json:"notes,omitempty"`
	// Repair tells whether differences were repaired.
	Repair bool `json:"repair"`
}

// Differences counts every table's remaining differences: after a
// repair, those the re-verify still found.
func (r *Report) Differences() int {
	n := 0
	for _, t := range r.Tables {
		if r.Repair {
			n += t.StillDifferent
		} else {
			n += len(t.Differences)
		}
	}
	return n
}

// shownDiffs is how many differences per table the text report lists.
const shownDiffs = 20

// WriteText prints the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	for _, t := range r.Tables {
		state := "ok"
		switch {
		case len(t.Differences) > 0 && r.Repair && t.StillDifferent == 0:
			state = fmt.Sprintf("%d differences, repaired", len(t.Differences))
		case len(t.Differences) > 0 && r.Repair:
			state = fmt.Sprintf("%d differences, %d still different after repair", len(t.Differences), t.StillDifferent)
		case len(t.Differences) > 0:
			state = fmt.Sprintf("%d differences", len(t.Differences))
		}
		sample := ""
		if t.SampledPercent > 0 {
			sample = fmt.Sprintf(", %d%% sample", t.SampledPercent)
		}
		replica := t.Replica
		if len(t.Servers) > 0 {
			replica += " on " + strings.Join(t.Servers, ", ")
		}
		fmt.Fprintf(w, "%-8s %s -> %s: %d source rows, %d replica records/rows, %d chunks (%d differing)%s, %.1fs: %s\n",
			t.Direction, t.Table, replica, t.SourceRows, t.ReplicaRows, t.Chunks, t.ChunksDiffering, sample, t.Seconds, state)
		for i, d := range t.Differences {
			if i == shownDiffs {
				fmt.Fprintf(w, "    ... and %d more (--json lists all)\n", len(t.Differences)-shownDiffs)
				break
			}
			line := fmt.Sprintf("    %-9s %s %s", d.Kind, d.Table, d.Key)
			if d.Server != "" {
				line += " on " + d.Server
			}
			if len(d.Fields) > 0 {
				line += " fields " + strings.Join(d.Fields, ", ")
			}
			fmt.Fprintln(w, line)
		}
		if len(t.Unsettled) > 0 {
			fmt.Fprintf(w, "    %d keys kept changing and were not checked: %s\n", len(t.Unsettled), strings.Join(first(t.Unsettled, 10), " "))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "%d tables, %d differences, %.1fs\n", len(r.Tables), r.Differences(), r.Finished.Sub(r.Started).Seconds())
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

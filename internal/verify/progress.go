package verify

import "github.com/pgsurreal/pgsurreal/internal/progress"

// TableProgress is one table's progress: source rows compared so far.
type TableProgress = progress.Table

// ProgressFunc receives every table's progress about once a second and
// a last time at the end (a terminal bar).
type ProgressFunc = progress.Func

package throughput

import (
	"flag"
	"time"
)

// Flags are the command-line settings bench/streaming and bench/publish
// share: their throughput phases', their pipeline's and the stack's.
type Flags struct {
	Duration   time.Duration
	Writers    int
	BigTxn     int
	MaxBacklog int64
	Rounds     int
	BatchSize  int
	Verbose    bool
	Private    bool
	KeepStack  bool
}

// Register defines the flags on the command line.
func (f *Flags) Register() {
	flag.DurationVar(&f.Duration, "duration", 20*time.Second, "length of each throughput phase")
	flag.IntVar(&f.Writers, "writers", 4, "PostgreSQL connections inserting in the throughput phases")
	flag.IntVar(&f.BigTxn, "txn-rows", 100, "rows per transaction of the second throughput phase")
	flag.Int64Var(&f.MaxBacklog, "max-backlog", 50_000, "writers pause while more rows than this are committed but not applied")
	flag.IntVar(&f.Rounds, "rounds", 3, "rounds of every measurement; medians over rounds are reported")
	flag.IntVar(&f.BatchSize, "batch-size", 0, "sync.batch_size of the pipeline (0: the default)")
	flag.BoolVar(&f.Verbose, "v", false, "log pgsurreal at info level")
	flag.BoolVar(&f.Private, "private-stack", false, "run against a stack of the benchmarks' own (.pgsurreal/bench, ports 54349/18349) instead of the shared test stack")
	flag.BoolVar(&f.KeepStack, "keep-stack", false, "leave the stack running if this run started it")
}

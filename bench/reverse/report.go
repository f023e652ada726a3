package main

import (
	"fmt"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
)

// result is what a run saves to bench/results/reverse-<date>.json.
type result struct {
	Benchmark string       `json:"benchmark"`
	Date      string       `json:"date"`
	Host      harness.Host `json:"host"`
	Servers   string       `json:"servers"`
	Note      string       `json:"note,omitempty"`
	LoadStart float64      `json:"load_average_at_start"`
	LoadEnd   float64      `json:"load_average_at_end"`
	Table     string       `json:"table"`
	Settings  settings     `json:"settings"`
	Summary   summary      `json:"summary"`
	Rounds    []round      `json:"rounds"`
	Verified  verified     `json:"verified"`

	ReadyWaitS float64 `json:"ready_wait_seconds"`
}

// summary holds the medians over rounds and the ratios.
type summary struct {
	RawSingleMedian float64 `json:"raw_single_record_txn_changes_per_s_median"`
	RawMultiMedian  float64 `json:"raw_multi_record_txn_changes_per_s_median"`
	PGUpsertMedian  float64 `json:"pg_upsert_rows_per_s_median"`

	CatchUpSingleMedian float64 `json:"catch_up_single_record_txn_changes_per_s_median"`
	CatchUpMultiMedian  float64 `json:"catch_up_multi_record_txn_changes_per_s_median"`

	SingleMedian  float64 `json:"single_record_txn_applied_changes_per_s_median"`
	SingleRatio   float64 `json:"single_record_txn_ratio_to_raw"`
	SingleKeptUp  int     `json:"single_record_txn_rounds_kept_up"`
	MultiMedian   float64 `json:"multi_record_txn_applied_changes_per_s_median"`
	MultiRatio    float64 `json:"multi_record_txn_ratio_to_raw"`
	MultiKeptUp   int     `json:"multi_record_txn_rounds_kept_up"`
	MultiPGRatio  float64 `json:"multi_record_txn_ratio_to_pg_upsert"`
	SinglePGRatio float64 `json:"single_record_txn_ratio_to_pg_upsert"`

	LagRate         float64 `json:"lag_changes_per_s"`
	LagAchievedRate float64 `json:"lag_achieved_changes_per_s_median"`
	LagP50Median    float64 `json:"lag_p50_ms_median"`
	LagP90Median    float64 `json:"lag_p90_ms_median"`
	LagP99Median    float64 `json:"lag_p99_ms_median"`
	LagMaxMedian    float64 `json:"lag_max_ms_median"`

	// LostChanges and MissingLagRecords add up, over every round, the
	// changes the pipeline never applied: both should be 0.
	LostChanges       int64 `json:"lost_changes"`
	MissingLagRecords int   `json:"missing_lag_records"`
}

// round is one pass of every measurement.
type round struct {
	RawSingle rawResult `json:"raw_single_record_transactions"`
	RawMulti  rawResult `json:"raw_multi_record_transactions"`
	// CatchUpSingle and CatchUpMulti are the pipeline applying what the
	// raw measurements wrote.
	CatchUpSingle catchUpResult `json:"catch_up_single_record_transactions"`
	CatchUpMulti  catchUpResult `json:"catch_up_multi_record_transactions"`
	Single        loadResult    `json:"single_record_transactions"`
	Multi         loadResult    `json:"multi_record_transactions"`
	Lag           lagResult     `json:"lag"`
	PGUpsert      harness.Rate  `json:"pg_upsert"`
}

// verified compares the two sides once the pipeline has caught up.
type verified struct {
	SurrealRecords int64 `json:"surreal_records"`
	PGRows         int64 `json:"pg_rows"`
	Same           bool  `json:"same_count"`
}

type settings struct {
	PollInterval  string `json:"reverse_poll_interval"`
	BatchSize     int    `json:"reverse_batch_size"`
	Mix           string `json:"mix"`
	Writers       int    `json:"writers"`
	RecordsPerTxn int    `json:"multi_record_txn_records"`
	MaxBacklog    int64  `json:"max_backlog_changes"`
	Duration      string `json:"throughput_phase_duration"`
	RawDuration   string `json:"raw_phase_duration"`
	LagDuration   string `json:"lag_phase_duration"`
	LagWriters    int    `json:"lag_writers"`
	PGRows        int    `json:"pg_upsert_rows"`
	PGBatch       int    `json:"pg_upsert_rows_per_transaction"`
}

func summarize(rounds []round, lagRate float64) summary {
	var rawS, rawM, pgU, cuS, cuM, single, multi, ach, p50, p90, p99, pmax []float64
	s := summary{LagRate: lagRate}
	for _, r := range rounds {
		rawS = append(rawS, r.RawSingle.PerS)
		rawM = append(rawM, r.RawMulti.PerS)
		pgU = append(pgU, r.PGUpsert.PerS)
		cuS = append(cuS, r.CatchUpSingle.PerS)
		cuM = append(cuM, r.CatchUpMulti.PerS)
		single = append(single, r.Single.AppliedPerSMedian)
		multi = append(multi, r.Multi.AppliedPerSMedian)
		ach = append(ach, r.Lag.AchievedPerS)
		p50 = append(p50, r.Lag.P50Ms)
		p90 = append(p90, r.Lag.P90Ms)
		p99 = append(p99, r.Lag.P99Ms)
		pmax = append(pmax, r.Lag.MaxMs)
		s.LostChanges += r.CatchUpSingle.Lost + r.CatchUpMulti.Lost + r.Single.Lost + r.Multi.Lost
		s.MissingLagRecords += r.Lag.Missing
		if r.Single.KeptUp {
			s.SingleKeptUp++
		}
		if r.Multi.KeptUp {
			s.MultiKeptUp++
		}
	}
	med := func(xs []float64, d int) float64 { return harness.Round(harness.Median(xs), d) }
	s.RawSingleMedian, s.RawMultiMedian, s.PGUpsertMedian = med(rawS, 0), med(rawM, 0), med(pgU, 0)
	s.CatchUpSingleMedian, s.CatchUpMultiMedian = med(cuS, 0), med(cuM, 0)
	s.SingleMedian, s.MultiMedian = med(single, 0), med(multi, 0)
	s.SingleRatio = ratio(s.SingleMedian, s.RawSingleMedian)
	s.MultiRatio = ratio(s.MultiMedian, s.RawMultiMedian)
	s.SinglePGRatio = ratio(s.SingleMedian, s.PGUpsertMedian)
	s.MultiPGRatio = ratio(s.MultiMedian, s.PGUpsertMedian)
	s.LagAchievedRate = med(ach, 0)
	s.LagP50Median, s.LagP90Median, s.LagP99Median, s.LagMaxMedian = med(p50, 1), med(p90, 1), med(p99, 1), med(pmax, 1)
	return s
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return harness.Round(a/b, 3)
}

func printRaw(what string, r rawResult) {
	fmt.Printf("raw SurrealDB writes, %s, %d writers, %.1f s: %.0f changes/s (%d changes, %d conflict retries)\n",
		what, r.Writers, r.Seconds, r.PerS, r.Changes, r.Retries)
}

func printCatchUp(r catchUpResult) {
	fmt.Printf("  catch-up: the pipeline applied that backlog in %.2f s (started in %.2f s): %.0f changes/s; %s\n",
		r.Seconds, r.StartSeconds, r.PerS, describe(r.Pipeline))
	if r.Lost > 0 {
		fmt.Printf("  LOST: %d changes never applied\n", r.Lost)
	}
}

func printLoad(what string, r loadResult) {
	fmt.Printf("%s, %d writers, %.1f s: written %.0f changes/s; applied %.0f changes/s (median per second %.0f); backlog at end %d changes, drained in %.2f s; writers throttled %.1f s; %s\n",
		what, r.Writers, r.Seconds, r.WrittenPerS, r.AppliedPerS, r.AppliedPerSMedian, r.BacklogAtEnd, r.DrainSeconds, r.ThrottledSeconds, keptUp(r))
	fmt.Printf("  %d changes written, %d conflict retries; %s\n", r.Written, r.Retries, describe(r.Pipeline))
	if r.Lost > 0 {
		fmt.Printf("  LOST: %d changes never applied (nothing more for %s)\n", r.Lost, stallAfter)
	}
}

func keptUp(r loadResult) string {
	if r.KeptUp {
		return "kept up (SurrealDB writes set the pace)"
	}
	return "did not keep up (the pipeline set the pace)"
}

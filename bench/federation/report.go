package main

import (
	"fmt"

	"github.com/pgsurreal/pgsurreal/bench/internal/harness"
)

type sizes struct {
	Customers   int `json:"customers"`
	Orders      int `json:"orders"`
	Friendships int `json:"friendships"`
	Reviews     int `json:"reviews"`
}

type query struct {
	Pgsurreal   latency  `json:"pgsurreal"`
	AppMerge    latency  `json:"app_merge"`
	AllPostgres latency  `json:"all_postgres"`
	CacheHit    *latency `json:"cache_hit,omitempty"`
	// SpeedupVsAppMerge is app merge p50 / pgsurreal p50 (target >= 10
	// for the selective query).
	SpeedupVsAppMerge float64 `json:"speedup_vs_app_merge"`
	// VsAllPostgres is pgsurreal p50 / all-PostgreSQL p50 (target <= 2).
	VsAllPostgres    float64 `json:"vs_all_postgres_p50"`
	VsAllPostgresP99 float64 `json:"vs_all_postgres_p99"`
}

type result struct {
	Date        string       `json:"date"`
	Host        harness.Host `json:"host"`
	Servers     string       `json:"servers"`
	Note        string       `json:"note,omitempty"`
	LoadAverage float64      `json:"load_average_at_start"`
	Dataset     sizes        `json:"dataset"`
	Selective   query        `json:"selective"`
	Report      query        `json:"report"`
	// SurrealRoundTrip is RETURN 1's latency: the floor under every
	// SurrealDB read.
	SurrealRoundTrip *latency `json:"surreal_round_trip,omitempty"`
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return harness.Round(a/b, 2)
}

func (r *result) ratios() {
	for _, q := range []*query{&r.Selective, &r.Report} {
		q.SpeedupVsAppMerge = ratio(q.AppMerge.P50ms, q.Pgsurreal.P50ms)
		q.VsAllPostgres = ratio(q.Pgsurreal.P50ms, q.AllPostgres.P50ms)
		q.VsAllPostgresP99 = ratio(q.Pgsurreal.P99ms, q.AllPostgres.P99ms)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func (r *result) print() {
	s, p := r.Selective, r.Report
	fmt.Println("\nsummary (medians; ratios from the same run):")
	fmt.Printf("  selective: pgsurreal p50 %.3f ms; %.1fx faster than the app merge (target >= 10x: %s); %.2fx the all-PostgreSQL copy (target <= 2x: %s)\n",
		s.Pgsurreal.P50ms, s.SpeedupVsAppMerge, verdict(s.SpeedupVsAppMerge >= 10), s.VsAllPostgres, verdict(s.VsAllPostgres <= 2))
	if s.CacheHit != nil {
		fmt.Printf("  selective, cache hit: p50 %.3f ms, p99 %.3f ms\n", s.CacheHit.P50ms, s.CacheHit.P99ms)
	}
	fmt.Printf("  report:    pgsurreal p50 %.3f ms; %.1fx faster than the app merge; %.2fx the all-PostgreSQL copy (target <= 2x: %s)\n",
		p.Pgsurreal.P50ms, p.SpeedupVsAppMerge, p.VsAllPostgres, verdict(p.VsAllPostgres <= 2))
	if p.CacheHit != nil {
		fmt.Printf("  report, cache hit: p50 %.3f ms = %.2fx the all-PostgreSQL copy\n", p.CacheHit.P50ms, ratio(p.CacheHit.P50ms, p.AllPostgres.P50ms))
	}
	if r.SurrealRoundTrip != nil {
		fmt.Printf("  SurrealDB round trip (RETURN 1): p50 %.3f ms, the floor under each SurrealDB read\n", r.SurrealRoundTrip.P50ms)
	}
}

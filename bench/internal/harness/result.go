package harness

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// Median returns the median of xs (the mean of the middle two for an
// even count), 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentile returns the p-th percentile (0..100) of xs, nearest rank.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Round keeps digits decimals, for readable JSON.
func Round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if x < 0 {
		return -float64(int64(-x*p+0.5)) / p
	}
	return float64(int64(x*p+0.5)) / p
}

// Host describes the machine a result was measured on.
type Host struct {
	CPUs int    `json:"cpus"`
	Go   string `json:"go"`
	OS   string `json:"os"`
}

// ThisHost describes this machine.
func ThisHost() Host {
	return Host{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
}

// Save writes v as indented JSON to bench/results/<name>-<date>.json in
// the repository and returns the path relative to the repository.
func Save(name string, date time.Time, v any) (string, error) {
	root := testenv.RepoRoot()
	dir := filepath.Join(root, "bench", "results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, fmt.Sprintf("%s-%s.json", name, date.UTC().Format("2006-01-02")))
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return "", err
	}
	rel, _ := filepath.Rel(root, file)
	return rel, nil
}

// LoadAverage returns the 1-minute load average (0 where unknown): the
// machines these run on are shared, and a busy one explains a slow run.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var x float64
	_, _ = fmt.Sscan(string(b), &x)
	return x
}

// CPUTime returns the CPU time (user + system) this process has used: the
// pipeline runs in-process, so the difference over a measurement is what
// pgsurreal (or the raw client) cost on the machine's few cores.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Logger logs pgsurreal to stderr: warnings, or with verbose from the
// info level.
func Logger(verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

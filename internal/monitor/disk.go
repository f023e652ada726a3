package monitor

import (
	"log/slog"
	"path/filepath"
	gosync "sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	diskSizeDesc = prometheus.NewDesc("pgsurreal_disk_size_bytes",
		"Size of the filesystem holding a watched directory.", []string{"path"}, nil)
	diskFreeDesc = prometheus.NewDesc("pgsurreal_disk_free_bytes",
		"Space on that filesystem available to unprivileged users (df's Avail).", []string{"path"}, nil)
	diskUsedDesc = prometheus.NewDesc("pgsurreal_disk_used_ratio",
		"Used share of that filesystem as df computes Use%: used / (used + available), 0 to 1.", []string{"path"}, nil)
)

// diskCollector reports the filesystems of a list of directories.
type diskCollector struct {
	paths []string
	log   *slog.Logger

	mu      gosync.Mutex
	missing map[string]bool // paths already reported missing
}

// newDiskCollector watches paths, made absolute and without duplicates
// (two equal labels would fail the whole scrape).
func newDiskCollector(paths []string, log *slog.Logger) *diskCollector {
	c := &diskCollector{log: log, missing: map[string]bool{}}
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if !seen[p] {
			seen[p] = true
			c.paths = append(c.paths, p)
		}
	}
	return c
}

var _ prometheus.Collector = (*diskCollector)(nil)

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- diskSizeDesc
	ch <- diskFreeDesc
	ch <- diskUsedDesc
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.paths {
		var st syscall.Statfs_t
		if err := syscall.Statfs(p, &st); err != nil {
			c.reportMissing(p, err)
			continue
		}
		c.mu.Lock()
		delete(c.missing, p) // found again: a later loss is reported again
		c.mu.Unlock()
		bsize := uint64(st.Bsize)
		size := uint64(st.Blocks) * bsize
		avail := uint64(st.Bavail) * bsize
		used := (uint64(st.Blocks) - uint64(st.Bfree)) * bsize
		ratio := 0.0
		if used+avail > 0 {
			ratio = float64(used) / float64(used+avail)
		}
		ch <- prometheus.MustNewConstMetric(diskSizeDesc, prometheus.GaugeValue, float64(size), p)
		ch <- prometheus.MustNewConstMetric(diskFreeDesc, prometheus.GaugeValue, float64(avail), p)
		ch <- prometheus.MustNewConstMetric(diskUsedDesc, prometheus.GaugeValue, ratio, p)
	}
}

// reportMissing logs a path that cannot be measured, once until it can
// be again.
func (c *diskCollector) reportMissing(p string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.missing[p] {
		return
	}
	c.missing[p] = true
	c.log.Warn("disk metrics: cannot read the filesystem of a watched directory; skipping it (create it, or remove it from alerts.disk_paths)", "path", p, "err", err)
}

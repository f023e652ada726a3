package monitor_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/monitor"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDiskCollector: size, free and used ratio of a directory's
// filesystem; a path given twice is reported once; a missing path is
// logged once and skipped.
func TestDiskCollector(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "not", "there")
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	err := monitor.Register(reg, monitor.Options{DiskPaths: []string{dir, dir + "/", missing},
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s := scrape(t, reg)
		size := s["pgsurreal_disk_size_bytes{path="+dir+"}"]
		free := s["pgsurreal_disk_free_bytes{path="+dir+"}"]
		ratio, ok := s["pgsurreal_disk_used_ratio{path="+dir+"}"]
		if size <= 0 || free <= 0 || free > size || !ok || ratio <= 0 || ratio > 1 {
			t.Fatalf("implausible disk metrics for %s:\n%s", dir, dump(s, "pgsurreal_disk"))
		}
		if len(s) != 3 {
			t.Fatalf("want 3 samples (one path), got:\n%s", dump(s, "pgsurreal_disk"))
		}
	}
	if n := strings.Count(logs.String(), missing); n != 1 {
		t.Fatalf("the missing path was logged %d times, want once:\n%s", n, logs.String())
	}
}

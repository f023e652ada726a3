package dashboard

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		got, want string
	}{
		{fmtCount(int64(0)), "0"},
		{fmtCount(int64(999)), "999"},
		{fmtCount(int64(1234567)), "1,234,567"},
		{fmtCount(Unknown), "—"},
		{fmtCount(12.6), "13"},
		{fmtSeconds(0), "0 s"},
		{fmtSeconds(0.00035), "350 µs"},
		{fmtSeconds(0.012), "12 ms"},
		{fmtSeconds(1.5), "1.5 s"},
		{fmtSeconds(180), "3 min"},
		{fmtBytes(512), "512 B"},
		{fmtBytes(1536), "1.5 KiB"},
		{fmtBytes(3 << 30), "3.0 GiB"},
		{fmtDuration(90 * time.Minute), "1 h"},
		{fmtDuration(72 * time.Hour), "3 d"},
		{fmtInterval(2 * time.Second), "2 s"},
		{fmtInterval(10 * time.Minute), "10 min"},
		{fmtInterval(1500 * time.Millisecond), "1500 ms"},
		{fmtLabels(map[string]string{"winner": "postgres", "table": "orders"}), "table=orders, winner=postgres"},
		{tableRow{TableCount: TableCount{PostgresRows: 10, SurrealRecords: 12}}.DifferenceText(), "+2"},
		{tableRow{TableCount: TableCount{PostgresRows: 1010, SurrealRecords: 7}}.DifferenceText(), "−1,003"},
		{tableRow{TableCount: TableCount{PostgresRows: Unknown, SurrealRecords: 7}}.DifferenceText(), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

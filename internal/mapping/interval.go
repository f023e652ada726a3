package mapping

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// interval is PostgreSQL's interval: months, days and microseconds, kept
// apart because a month and a day have no fixed length.
type interval struct {
	months, days, micros int64
}

const (
	microsPerSecond = 1_000_000
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
)

// convertInterval maps an interval without months or years whose total is
// not negative to a duration (a day counts as 24 hours, as PostgreSQL's
// interval comparison does). Every other interval has no SurrealDB
// duration (durations are unsigned and fixed-length): it maps to the ISO
// 8601 string PostgreSQL prints under IntervalStyle iso_8601, such as
// "P1Y2M3DT4H5M6S" or "PT-1S", the same whatever IntervalStyle the
// session used.
func convertInterval(text string) (any, error) {
	iv, err := parseInterval(text)
	if err != nil {
		return nil, err
	}
	if d, ok := iv.duration(); ok {
		return models.CustomDuration{Duration: d}, nil
	}
	return iv.iso8601(), nil
}

// duration returns the interval as a fixed, non-negative duration if it is
// one and fits Go's time.Duration (about 292 years).
func (iv interval) duration() (time.Duration, bool) {
	if iv.months != 0 || iv.days > math.MaxInt64/microsPerDay || iv.days < math.MinInt64/microsPerDay {
		return 0, false
	}
	dm := iv.days * microsPerDay
	if (iv.micros > 0 && dm > math.MaxInt64-iv.micros) || (iv.micros < 0 && dm < math.MinInt64-iv.micros) {
		return 0, false
	}
	total := dm + iv.micros
	if total < 0 || total > math.MaxInt64/1000 {
		return 0, false
	}
	return time.Duration(total) * time.Microsecond, true
}

// parseInterval reads IntervalStyle postgres (the default):
// "1 year 2 mons -3 days +04:05:06.789", "00:00:00", "-1 days".
func parseInterval(text string) (interval, error) {
	var iv interval
	bad := malformed("not an interval in IntervalStyle postgres: set IntervalStyle to postgres for the replication and snapshot sessions")
	f := strings.Fields(text)
	for i := 0; i < len(f); i++ {
		if strings.Contains(f[i], ":") {
			if i != len(f)-1 {
				return iv, bad
			}
			m, err := parseIntervalClock(f[i])
			if err != nil {
				return iv, bad
			}
			iv.micros = m
			continue
		}
		if i+1 >= len(f) {
			return iv, bad
		}
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return iv, bad
		}
		i++
		switch f[i] {
		case "year", "years":
			iv.months += n * 12
		case "mon", "mons":
			iv.months += n
		case "day", "days":
			iv.days += n
		default:
			return iv, bad
		}
	}
	if len(f) == 0 {
		return iv, bad
	}
	return iv, nil
}

// parseIntervalClock reads [+-]H:MM:SS[.ffffff], hours unbounded.
func parseIntervalClock(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] == "" || !allDigits(parts[0]) {
		return 0, ErrMalformed
	}
	h, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || h > math.MaxInt64/microsPerHour {
		return 0, ErrMalformed
	}
	m, err := atoi2(parts[1])
	if err != nil {
		return 0, err
	}
	secText, frac, hasFrac := strings.Cut(parts[2], ".")
	sec, err := atoi2(secText)
	if err != nil {
		return 0, err
	}
	micros := 0
	if hasFrac {
		if micros, err = parseMicros(frac); err != nil {
			return 0, err
		}
	}
	rest := int64(m)*microsPerMinute + int64(sec)*microsPerSecond + int64(micros)
	if h*microsPerHour > math.MaxInt64-rest {
		return 0, ErrMalformed
	}
	total := h*microsPerHour + rest
	if neg {
		total = -total
	}
	return total, nil
}

// iso8601 renders the interval exactly as PostgreSQL does under
// IntervalStyle iso_8601 (EncodeInterval in datetime.c).
func (iv interval) iso8601() string {
	year, mon, mday := iv.months/12, iv.months%12, iv.days
	t := iv.micros
	hour := t / microsPerHour
	t -= hour * microsPerHour
	minute := t / microsPerMinute
	t -= minute * microsPerMinute
	sec := t / microsPerSecond
	fsec := t - sec*microsPerSecond
	if year == 0 && mon == 0 && mday == 0 && hour == 0 && minute == 0 && sec == 0 && fsec == 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	part := func(n int64, unit byte) {
		if n != 0 {
			b.WriteString(strconv.FormatInt(n, 10))
			b.WriteByte(unit)
		}
	}
	part(year, 'Y')
	part(mon, 'M')
	part(mday, 'D')
	if hour != 0 || minute != 0 || sec != 0 || fsec != 0 {
		b.WriteByte('T')
	}
	part(hour, 'H')
	part(minute, 'M')
	if sec != 0 || fsec != 0 {
		if sec < 0 || fsec < 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.FormatInt(abs(sec), 10))
		if fsec != 0 {
			frac := strconv.FormatInt(abs(fsec)+microsPerSecond, 10)[1:]
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(frac, "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

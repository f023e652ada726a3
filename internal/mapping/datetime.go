package mapping

import (
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/surrealdb/surrealdb.go/pkg/models"
)

// MaxDatetime and MinDatetime are the ends of SurrealDB's datetime range.
// PostgreSQL's 'infinity' maps to MaxDatetime and '-infinity' to
// MinDatetime: they keep comparisons such as valid_to > time::now()
// working, and no finite PostgreSQL value maps to either (PostgreSQL
// stops at 4713 BC and has microseconds, not MaxDatetime's nanoseconds), so
// a reader can map them back.
var (
	MaxDatetime = time.Date(262142, 12, 31, 23, 59, 59, 999999999, time.UTC)
	MinDatetime = time.Date(-262143, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ZeroDatetime is what Convert returns for 0001-01-01T00:00:00Z. That
// instant is Go's zero time, which the SDK's models.CustomDateTime sends
// as NONE (the field would vanish); ZeroDatetime sends the datetime.
type ZeroDatetime struct{}

// Time is the instant ZeroDatetime stands for.
func (ZeroDatetime) Time() time.Time { return time.Time{} }

// MarshalCBOR writes SurrealDB's datetime tag (12) with [seconds, nanos].
func (ZeroDatetime) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: models.TagCustomDatetime, Content: [2]int64{time.Time{}.Unix(), 0}})
}

// datetimeValue wraps an instant for the SDK.
func datetimeValue(t time.Time) any {
	if t.IsZero() {
		return ZeroDatetime{}
	}
	return models.CustomDateTime{Time: t}
}

// convertDate reads a date (DateStyle ISO) as midnight UTC.
func convertDate(text string) (any, error) {
	return convertDatetime(text, false, false)
}

// convertTimestamp reads timestamp (as UTC) and timestamptz (any offset,
// converted to UTC).
func convertTimestamp(text string, zone bool) (any, error) {
	return convertDatetime(text, true, zone)
}

func convertDatetime(text string, withTime, withZone bool) (any, error) {
	switch text {
	case "infinity":
		return models.CustomDateTime{Time: MaxDatetime}, nil
	case "-infinity":
		return models.CustomDateTime{Time: MinDatetime}, nil
	}
	t, err := parseDatetime(text, withTime, withZone)
	if err != nil {
		return nil, err
	}
	if t.Before(MinDatetime) || t.After(MaxDatetime) {
		return nil, unrepresentable("outside SurrealDB's datetime range (-262143-01-01 to +262142-12-31)")
	}
	return datetimeValue(t), nil
}

// parseDatetime reads PostgreSQL's ISO output:
// YYYY-MM-DD[ HH:MM:SS[.ffffff][+-HH[:MM[:SS]]]][ BC]. Years may have more
// than four digits.
// errNotISODatetime is built once: parseDatetime runs for every date and
// timestamp value replicated.
var errNotISODatetime = malformed("not an ISO date/time: set DateStyle to ISO for the replication and snapshot sessions")

func parseDatetime(text string, withTime, withZone bool) (time.Time, error) {
	bad := errNotISODatetime
	s, bc := strings.CutSuffix(text, " BC")
	datePart, timePart, hasTime := strings.Cut(s, " ")
	if hasTime != withTime {
		return time.Time{}, bad
	}
	ys, rest, ok1 := strings.Cut(datePart, "-")
	ms, ds, ok2 := strings.Cut(rest, "-")
	year, e1 := strconv.Atoi(ys)
	month, e2 := atoi2(ms)
	day, e3 := atoi2(ds)
	if !ok1 || !ok2 || e1 != nil || e2 != nil || e3 != nil || year < 1 || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, bad
	}
	if bc {
		year = 1 - year // 1 BC is year 0 (astronomical numbering)
	}
	var hour, minute, sec, micros, offset int
	if withTime {
		clock, zone := timePart, ""
		if withZone {
			i := strings.IndexAny(timePart, "+-")
			if i < 0 {
				return time.Time{}, bad
			}
			clock, zone = timePart[:i], timePart[i:]
		}
		var err error
		if hour, minute, sec, micros, err = parseClock(clock); err != nil {
			return time.Time{}, bad
		}
		if withZone {
			if offset, err = parseOffset(zone); err != nil {
				return time.Time{}, bad
			}
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micros*1000, time.UTC)
	if t.Day() != day {
		return time.Time{}, bad
	}
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// parseClock reads HH:MM:SS[.ffffff].
func parseClock(s string) (h, m, sec, micros int, err error) {
	hms, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, 0, 0, 0, ErrMalformed
	}
	h, e1 := atoi2(parts[0])
	m, e2 := atoi2(parts[1])
	sec, e3 := atoi2(parts[2])
	if e1 != nil || e2 != nil || e3 != nil || h > 24 || m > 59 || sec > 60 {
		return 0, 0, 0, 0, ErrMalformed
	}
	if hasFrac {
		if micros, err = parseMicros(frac); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	return h, m, sec, micros, nil
}

// parseMicros reads up to six fractional digits as microseconds.
func parseMicros(frac string) (int, error) {
	if frac == "" || len(frac) > 6 || !allDigits(frac) {
		return 0, ErrMalformed
	}
	n, _ := strconv.Atoi(frac + strings.Repeat("0", 6-len(frac)))
	return n, nil
}

// parseOffset reads +HH, +HH:MM or +HH:MM:SS into seconds east of UTC.
func parseOffset(z string) (int, error) {
	if len(z) < 3 {
		return 0, ErrMalformed
	}
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	total := 0
	for i, p := range strings.Split(z[1:], ":") {
		n, err := atoi2(p)
		if err != nil || i > 2 {
			return 0, ErrMalformed
		}
		total += n * []int{3600, 60, 1}[i]
	}
	return sign * total, nil
}

// atoi2 reads exactly two digits.
func atoi2(s string) (int, error) {
	if len(s) != 2 || !allDigits(s) {
		return 0, ErrMalformed
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), nil
}

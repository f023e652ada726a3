package config

import "github.com/robfig/cron/v3"

// ParseSchedule parses verify.schedule and backup.schedule: five cron
// fields (minute hour day-of-month month day-of-week) or a descriptor
// (@hourly, @daily, @weekly, @every 6h), in the local time zone.
func ParseSchedule(spec string) (cron.Schedule, error) {
	return cron.ParseStandard(spec)
}

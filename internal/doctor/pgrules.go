package doctor

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// pgSetting is one row of pg_settings.
type pgSetting struct {
	Value string
	// PendingRestart is true when a new value is configured but only takes
	// effect after a restart.
	PendingRestart bool
}

// pgState is what the probe observed on a working connection.
type pgState struct {
	Version     string
	User        string
	ClientAddr  string // inet_client_addr(); "" over a Unix socket
	Superuser   bool
	Replication bool
	SlotsUsed   int
	// SendersActive counts the running WAL senders (pg_stat_replication).
	SendersActive int
	Settings      map[string]pgSetting
}

// pgSettingNames are the settings the rules read.
var pgSettingNames = []string{"wal_level", "max_replication_slots", "max_wal_senders", "max_prepared_transactions", "track_commit_timestamp"}

// pgAfterConnection are the checks that need a connection.
var pgAfterConnection = []string{CheckWALLevel, CheckReplicationSlots, CheckWALSenders, CheckReplicationPriv, CheckReplicationConn, CheckPreparedXacts, CheckCommitTimestamp}

// pgUnreachable reports a failed connection and skips everything else.
func pgUnreachable(cfg config.Postgres, err error) []Check {
	c := Check{Name: CheckPGConnection, System: SystemPostgres, Status: StatusFail,
		Detail: postgres.Explain(cfg, err), Fix: pgConnectFix(cfg, err)}
	return append([]Check{c}, skipped(SystemPostgres, "no connection to PostgreSQL", pgAfterConnection...)...)
}

// pgConnectFix names what to change for a failed connection.
func pgConnectFix(cfg config.Postgres, err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fmt.Sprintf("set postgres.password (or PGSURREAL_POSTGRES_PASSWORD) to the password of role %s, or give the role the configured one as a superuser (`\\password %s` in psql)", postgres.Ident(cfg.User), postgres.Ident(cfg.User))
		case "28000":
			return fmt.Sprintf("add a pg_hba.conf line such as `host %s %s <client address>/32 scram-sha-256`, then run `SELECT pg_reload_conf();`", hbaName(cfg.Database), hbaName(cfg.User))
		case "3D000":
			return fmt.Sprintf("run `CREATE DATABASE %s;` or set postgres.database", postgres.Ident(cfg.Database))
		}
	}
	return "make sure PostgreSQL is running and reachable, and check postgres.host, postgres.port, postgres.user, postgres.database and postgres.sslmode"
}

// pgChecks applies the rules to an observation. stateErr is set when the
// settings could not be read; replErr is the outcome of the replication
// connection, which the probe only tries when the role may replicate.
func pgChecks(cfg config.Postgres, st pgState, stateErr, replErr error) []Check {
	conn := Check{Name: CheckPGConnection, System: SystemPostgres, Status: StatusOK,
		Detail: fmt.Sprintf("connected to PostgreSQL %s at %s:%d, database %q, as user %q", st.Version, cfg.Host, cfg.Port, cfg.Database, st.User)}
	if stateErr != nil {
		conn.Status = StatusFail
		conn.Detail = fmt.Sprintf("connected, but reading settings and privileges failed: %s", postgres.Explain(cfg, stateErr))
		conn.Fix = "let the role read pg_settings, pg_roles, pg_replication_slots and pg_stat_replication (they are readable by every role by default)"
		return append([]Check{conn}, skipped(SystemPostgres, "settings could not be read", pgAfterConnection...)...)
	}
	return []Check{
		conn,
		walLevelCheck(st),
		slotsCheck(st),
		sendersCheck(st),
		privilegeCheck(st),
		replConnCheck(cfg, st, replErr),
		preparedCheck(st),
		commitTimestampCheck(st),
	}
}

func pgCheck(name string) Check {
	return Check{Name: name, System: SystemPostgres, Status: StatusOK}
}

// restartFix is the fix for a setting that only a restart applies.
func restartFix(name, value string) string {
	return fmt.Sprintf("set `%s = %s` in postgresql.conf (or run `ALTER SYSTEM SET %s = '%s';` as a superuser), then restart PostgreSQL: %s needs a restart, a reload is not enough",
		name, value, name, value, name)
}

// pending notes a configured value that waits for a restart.
func pending(s pgSetting) string {
	if s.PendingRestart {
		return " (a new value is configured and waits for a restart)"
	}
	return ""
}

func walLevelCheck(st pgState) Check {
	c := pgCheck(CheckWALLevel)
	s := st.Settings["wal_level"]
	c.Detail = fmt.Sprintf("wal_level is %s", s.Value)
	if s.Value != "logical" {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("wal_level is %s; pgsurreal reads changes by logical decoding, which needs logical%s", s.Value, pending(s))
		c.Fix = restartFix("wal_level", "logical")
	}
	return c
}

// capacityCheck is the rule shared by replication slots and WAL senders:
// at least one must be free.
func capacityCheck(name string, st pgState, setting string, used int, what, freeHint string) Check {
	c := pgCheck(name)
	s := st.Settings[setting]
	limit, err := strconv.Atoi(s.Value)
	if err != nil {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("cannot read %s (got %q)", setting, s.Value)
		c.Fix = restartFix(setting, "10")
		return c
	}
	free := limit - used
	c.Detail = fmt.Sprintf("%d of %d %s free (%s = %d, %d in use)", max(free, 0), limit, what, setting, limit, used)
	if free >= 1 {
		return c
	}
	c.Status = StatusFail
	c.Detail = fmt.Sprintf("no free %s: %s = %d and %d in use; pgsurreal needs 1%s", what, setting, limit, used, pending(s))
	c.Fix = restartFix(setting, strconv.Itoa(max(10, 2*used)))
	if used > 0 && freeHint != "" {
		c.Fix += "; or " + freeHint
	}
	return c
}

func slotsCheck(st pgState) Check {
	return capacityCheck(CheckReplicationSlots, st, "max_replication_slots", st.SlotsUsed, "replication slots",
		"drop a slot that is no longer used: `SELECT pg_drop_replication_slot('<slot name>');` (see pg_replication_slots)")
}

func sendersCheck(st pgState) Check {
	return capacityCheck(CheckWALSenders, st, "max_wal_senders", st.SendersActive, "WAL senders",
		"stop a replication client that is no longer needed (see pg_stat_replication)")
}

// mayReplicate reports whether the role may open a replication connection.
func (st pgState) mayReplicate() bool { return st.Superuser || st.Replication }

func privilegeCheck(st pgState) Check {
	c := pgCheck(CheckReplicationPriv)
	switch {
	case st.Superuser:
		c.Detail = fmt.Sprintf("role %q is a superuser", st.User)
	case st.Replication:
		c.Detail = fmt.Sprintf("role %q has REPLICATION", st.User)
	default:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("role %q has neither REPLICATION nor SUPERUSER, so it cannot read the WAL", st.User)
		c.Fix = fmt.Sprintf("run `ALTER ROLE %s REPLICATION;` as a superuser (no restart needed; new connections get it)", postgres.Ident(st.User))
	}
	return c
}

func replConnCheck(cfg config.Postgres, st pgState, err error) Check {
	c := pgCheck(CheckReplicationConn)
	if !st.mayReplicate() {
		c.Status = StatusSkip
		c.Detail = "skipped: the role lacks the REPLICATION privilege"
		return c
	}
	if err == nil {
		c.Detail = "a replication=database connection is accepted and IDENTIFY_SYSTEM answers"
		return c
	}
	c.Status = StatusFail
	c.Detail = "the server refused a replication connection: " + postgres.Explain(cfg, err)
	line := hbaLine(st.User, st.ClientAddr)
	c.Fix = fmt.Sprintf("add the line `%s` to pg_hba.conf (above any line that rejects it), then run `SELECT pg_reload_conf();` (no restart needed)", line)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "53300":
			c.Fix = restartFix("max_wal_senders", strconv.Itoa(max(10, 2*st.SendersActive)))
		case "42501":
			c.Fix = fmt.Sprintf("run `ALTER ROLE %s REPLICATION;` as a superuser", postgres.Ident(st.User))
		}
	}
	return c
}

// hbaLine is the pg_hba.conf line that lets user open a replication
// connection from addr (as the server saw it; "" for a Unix socket).
func hbaLine(user, addr string) string {
	if addr == "" {
		return fmt.Sprintf("local replication %s scram-sha-256", hbaName(user))
	}
	cidr := addr + "/32"
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Is6() && !ip.Is4In6() {
		cidr = addr + "/128"
	}
	return fmt.Sprintf("host replication %s %s scram-sha-256", hbaName(user), cidr)
}

var plainHBAName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.$-]*$`)

// hbaKeywords would mean something else unquoted in a pg_hba.conf field.
var hbaKeywords = map[string]bool{"all": true, "sameuser": true, "samerole": true, "samegroup": true, "replication": true}

// hbaName writes a role or database name as a pg_hba.conf field: quoted
// when it holds anything but plain characters or is a keyword.
func hbaName(name string) string {
	if plainHBAName.MatchString(name) && !hbaKeywords[strings.ToLower(name)] {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func preparedCheck(st pgState) Check {
	c := pgCheck(CheckPreparedXacts)
	s := st.Settings["max_prepared_transactions"]
	n, err := strconv.Atoi(s.Value)
	c.Detail = fmt.Sprintf("max_prepared_transactions is %s", s.Value)
	if err != nil || n <= 0 {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("max_prepared_transactions is %s; transactions spanning both databases need prepared transactions (two-phase commit)%s", s.Value, pending(s))
		c.Fix = restartFix("max_prepared_transactions", "64")
	}
	return c
}

func commitTimestampCheck(st pgState) Check {
	c := pgCheck(CheckCommitTimestamp)
	s := st.Settings["track_commit_timestamp"]
	c.Detail = fmt.Sprintf("track_commit_timestamp is %s", s.Value)
	if s.Value != "on" {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("track_commit_timestamp is %s; pgsurreal needs the commit time of each transaction recorded%s", s.Value, pending(s))
		c.Fix = restartFix("track_commit_timestamp", "on")
	}
	return c
}

package doctor

import (
	"errors"
	"maps"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// goodState is a PostgreSQL that passes every rule.
func goodState() pgState {
	return pgState{
		Version: "15.8", User: "pgsurreal", ClientAddr: "127.0.0.1",
		Superuser: false, Replication: true, SlotsUsed: 1, SendersActive: 1,
		Settings: map[string]pgSetting{
			"wal_level":                 {Value: "logical"},
			"max_replication_slots":     {Value: "10"},
			"max_wal_senders":           {Value: "10"},
			"max_prepared_transactions": {Value: "64"},
			"track_commit_timestamp":    {Value: "on"},
		},
	}
}

func set(st pgState, name, value string) pgState {
	st.Settings = maps.Clone(st.Settings)
	st.Settings[name] = pgSetting{Value: value}
	return st
}

func statuses(checks []Check) map[string]string {
	m := map[string]string{}
	for _, c := range checks {
		m[c.Name] = c.Status
	}
	return m
}

func TestPGRules(t *testing.T) {
	t.Parallel()
	cfg := config.Default().Postgres
	tests := []struct {
		name    string
		st      pgState
		replErr error
		fail    map[string][]string // failing check -> substrings of its fix
		skip    []string
	}{
		{name: "all good", st: goodState()},
		{name: "superuser without REPLICATION attribute", st: func() pgState { s := goodState(); s.Superuser, s.Replication = true, false; return s }()},
		{name: "wal_level replica", st: set(goodState(), "wal_level", "replica"),
			fail: map[string][]string{CheckWALLevel: {"`wal_level = logical`", "ALTER SYSTEM SET wal_level = 'logical';", "restart"}}},
		{name: "no prepared transactions", st: set(goodState(), "max_prepared_transactions", "0"),
			fail: map[string][]string{CheckPreparedXacts: {"`max_prepared_transactions = 64`", "restart"}}},
		{name: "commit timestamps off", st: set(goodState(), "track_commit_timestamp", "off"),
			fail: map[string][]string{CheckCommitTimestamp: {"`track_commit_timestamp = on`", "restart"}}},
		{name: "slots all used", st: func() pgState { s := set(goodState(), "max_replication_slots", "4"); s.SlotsUsed = 4; return s }(),
			fail: map[string][]string{CheckReplicationSlots: {"`max_replication_slots = 10`", "restart", "pg_drop_replication_slot"}}},
		{name: "no slots configured", st: set(goodState(), "max_replication_slots", "0"),
			fail: map[string][]string{CheckReplicationSlots: {"`max_replication_slots = 10`", "restart"}}},
		{name: "senders all active", st: func() pgState { s := set(goodState(), "max_wal_senders", "12"); s.SendersActive = 12; return s }(),
			fail: map[string][]string{CheckWALSenders: {"`max_wal_senders = 24`", "restart"}}},
		{name: "no REPLICATION", st: func() pgState { s := goodState(); s.User = "app user"; s.Replication = false; return s }(),
			fail: map[string][]string{CheckReplicationPriv: {`ALTER ROLE "app user" REPLICATION;`}},
			skip: []string{CheckReplicationConn}},
		{name: "pg_hba rejects replication", st: goodState(),
			replErr: &pgconn.PgError{Code: "28000", Message: `no pg_hba.conf entry for replication connection from host "127.0.0.1", user "pgsurreal", no encryption`},
			fail:    map[string][]string{CheckReplicationConn: {"`host replication pgsurreal 127.0.0.1/32 scram-sha-256`", "SELECT pg_reload_conf();"}}},
		{name: "walsenders exhausted at connect", st: goodState(),
			replErr: &pgconn.PgError{Code: "53300", Message: "number of requested standby connections exceeds max_wal_senders (currently 10)"},
			fail:    map[string][]string{CheckReplicationConn: {"max_wal_senders", "restart"}}},
		{name: "several at once", st: set(set(goodState(), "wal_level", "minimal"), "track_commit_timestamp", "off"),
			fail: map[string][]string{CheckWALLevel: {"wal_level = logical"}, CheckCommitTimestamp: {"track_commit_timestamp = on"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checks := pgChecks(cfg, tt.st, nil, tt.replErr)
			if len(checks) != 1+len(pgAfterConnection) {
				t.Fatalf("got %d checks, want %d", len(checks), 1+len(pgAfterConnection))
			}
			for _, c := range checks {
				if c.System != SystemPostgres {
					t.Errorf("%s: system %q", c.Name, c.System)
				}
				want := StatusOK
				if _, ok := tt.fail[c.Name]; ok {
					want = StatusFail
				}
				for _, s := range tt.skip {
					if s == c.Name {
						want = StatusSkip
					}
				}
				if c.Status != want {
					t.Errorf("%s: status %s (%s), want %s", c.Name, c.Status, c.Detail, want)
				}
				if c.Detail == "" {
					t.Errorf("%s: empty detail", c.Name)
				}
				if c.Status == StatusOK && c.Fix != "" {
					t.Errorf("%s: passing check has a fix %q", c.Name, c.Fix)
				}
				for _, sub := range tt.fail[c.Name] {
					if !strings.Contains(c.Fix, sub) {
						t.Errorf("%s: fix %q lacks %q", c.Name, c.Fix, sub)
					}
				}
			}
		})
	}
}

func TestPGPendingRestart(t *testing.T) {
	t.Parallel()
	st := goodState()
	st.Settings["wal_level"] = pgSetting{Value: "replica", PendingRestart: true}
	c := walLevelCheck(st)
	if c.Status != StatusFail || !strings.Contains(c.Detail, "waits for a restart") {
		t.Fatalf("got %+v", c)
	}
}

func TestPGUnreachable(t *testing.T) {
	t.Parallel()
	cfg := config.Default().Postgres
	cfg.Password = "s3cret-pw"
	tests := []struct {
		name   string
		err    error
		detail string
		fix    string
	}{
		{"refused", &net0{syscall.ECONNREFUSED}, "connection refused", "postgres.port"},
		{"password", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}, "rejected the password", "postgres.password"},
		{"hba", &pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry"}, "pg_hba.conf", "pg_reload_conf()"},
		{"no database", &pgconn.PgError{Code: "3D000", Message: "database does not exist"}, "does not exist", `CREATE DATABASE "pgsurreal";`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checks := pgUnreachable(cfg, tt.err)
			if checks[0].Name != CheckPGConnection || checks[0].Status != StatusFail {
				t.Fatalf("first check %+v", checks[0])
			}
			if !strings.Contains(checks[0].Detail, tt.detail) || !strings.Contains(checks[0].Fix, tt.fix) {
				t.Errorf("got detail %q fix %q, want %q and %q", checks[0].Detail, checks[0].Fix, tt.detail, tt.fix)
			}
			if len(checks) != 1+len(pgAfterConnection) {
				t.Fatalf("got %d checks", len(checks))
			}
			for _, c := range checks[1:] {
				if c.Status != StatusSkip {
					t.Errorf("%s: %s, want skip", c.Name, c.Status)
				}
			}
			for _, c := range checks {
				if strings.Contains(c.Detail+c.Fix, "s3cret-pw") {
					t.Errorf("%s leaks the password", c.Name)
				}
			}
		})
	}
}

// net0 wraps an errno the way net.OpError does.
type net0 struct{ err error }

func (e *net0) Error() string { return "dial tcp 127.0.0.1:1: connect: " + e.err.Error() }
func (e *net0) Unwrap() error { return e.err }

func TestPGStateUnreadable(t *testing.T) {
	t.Parallel()
	checks := pgChecks(config.Default().Postgres, pgState{}, errors.New("permission denied"), nil)
	if checks[0].Status != StatusFail {
		t.Fatalf("connection check %+v", checks[0])
	}
	for _, c := range checks[1:] {
		if c.Status != StatusSkip {
			t.Errorf("%s: %s, want skip", c.Name, c.Status)
		}
	}
}

func TestHBALine(t *testing.T) {
	t.Parallel()
	tests := []struct{ user, addr, want string }{
		{"pgsurreal", "127.0.0.1", "host replication pgsurreal 127.0.0.1/32 scram-sha-256"},
		{"pgsurreal", "::1", "host replication pgsurreal ::1/128 scram-sha-256"},
		{"pgsurreal", "10.1.2.3", "host replication pgsurreal 10.1.2.3/32 scram-sha-256"},
		{"pgsurreal", "", "local replication pgsurreal scram-sha-256"},
		{"all", "127.0.0.1", `host replication "all" 127.0.0.1/32 scram-sha-256`},
		{`we"ird user`, "127.0.0.1", `host replication "we""ird user" 127.0.0.1/32 scram-sha-256`},
		{"+group", "127.0.0.1", `host replication "+group" 127.0.0.1/32 scram-sha-256`},
	}
	for _, tt := range tests {
		if got := hbaLine(tt.user, tt.addr); got != tt.want {
			t.Errorf("hbaLine(%q, %q) = %q, want %q", tt.user, tt.addr, got, tt.want)
		}
	}
}

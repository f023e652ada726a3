package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole of pgsurreal's configuration. Build it with Load, or
// start from Default when the file and environment do not matter (tests).
// Its zero value is not valid: fields left empty fail Validate.
type Config struct {
	// Log sets how the process logs.
	Log Log `yaml:"log"`
	// Postgres is the PostgreSQL side of the replication.
	Postgres Postgres `yaml:"postgres"`
	// Surreal is the SurrealDB side of the replication.
	Surreal Surreal `yaml:"surreal"`
	// Dev configures the local development cluster started by `pgsurreal dev`.
	Dev Dev `yaml:"dev"`
	// HTTP configures the API, health and metrics listener.
	HTTP HTTP `yaml:"http"`
	// HA configures the leader lease that lets several `pgsurreal serve`
	// processes run against the same databases, one of them leading.
	HA HA `yaml:"ha"`
	// Sync configures the replication from PostgreSQL into SurrealDB.
	Sync Sync `yaml:"sync"`
	// Reverse configures the replication from SurrealDB into PostgreSQL.
	Reverse Reverse `yaml:"reverse"`
	// Federation configures federated SQL over both databases and its
	// front ends (the PostgreSQL wire protocol server, HTTP, the CLI).
	Federation Federation `yaml:"federation"`
	// Verify configures `pgsurreal verify` and the daemon's scheduled
	// verify of both sides.
	Verify Verify `yaml:"verify"`
	// Backup configures `pgsurreal backup` and the daemon's scheduled
	// backups.
	Backup Backup `yaml:"backup"`
	// Alerts configures the daemon's own alert evaluation, /readyz and
	// the webhooks it notifies.
	Alerts Alerts `yaml:"alerts"`
	// Publish configures the publication of the changes sync applies to a
	// NATS JetStream stream (off unless publish.nats_url is set).
	Publish Publish `yaml:"publish"`

	// sources maps each dotted key that a layer set to where it was set:
	// "file:line", "env PGSURREAL_X" or "--set". Validate cites it.
	sources map[string]string
}

// Log sets the level and format of the process's slog output.
type Log struct {
	// Level is one of debug, info, warn, error; default info.
	Level string `yaml:"level"`
	// Format is text or json; default text.
	Format string `yaml:"format"`
}

// Postgres describes how to reach the PostgreSQL database being replicated.
type Postgres struct {
	// Host is a host name, an IP address or a Unix socket directory;
	// default 127.0.0.1.
	Host string `yaml:"host"`
	// Port defaults to 54329, the port of the dev cluster, so that a bare
	// `pgsurreal dev` and `pgsurreal serve` find each other.
	Port int `yaml:"port"`
	// User defaults to pgsurreal.
	User string `yaml:"user"`
	// Password defaults to "pgsurreal", the dev cluster's password.
	Password Secret `yaml:"password"`
	// Database defaults to pgsurreal.
	Database string `yaml:"database"`
	// SSLMode is a libpq sslmode: disable, allow, prefer, require,
	// verify-ca or verify-full; default prefer.
	SSLMode string `yaml:"sslmode"`
	// SSLRootCert is an optional CA certificate file; when empty, verify-ca
	// and verify-full use the system roots. Relative paths are relative to
	// the working directory.
	SSLRootCert string `yaml:"sslrootcert"`
	// MaxConns is the connection pool size, 1..1000; default 8.
	MaxConns int `yaml:"max_conns"`
	// ConnectTimeout bounds each connection attempt; default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
}

// Surreal describes how to reach the SurrealDB database being replicated.
type Surreal struct {
	// URL is the RPC endpoint, ws:// or wss:// (http:// and https:// are
	// accepted too); default ws://127.0.0.1:8000/rpc. It is used as
	// written: no /rpc is appended.
	URL string `yaml:"url"`
	// Namespace defaults to pgsurreal.
	Namespace string `yaml:"namespace"`
	// Database defaults to pgsurreal.
	Database string `yaml:"database"`
	// Username defaults to root.
	Username string `yaml:"username"`
	// Password defaults to root.
	Password Secret `yaml:"password"`
	// CAFile is an optional CA certificate file for wss:// and https://.
	CAFile string `yaml:"ca_file"`
	// PoolSize is the number of connections, 1..256; default 4.
	PoolSize int `yaml:"pool_size"`
	// Timeout bounds each request; default 30s.
	Timeout Duration `yaml:"timeout"`
	// Servers are further SurrealDB servers that sync.tables[].server
	// routes a table to, or sync.tables[].partition spreads a table's
	// records over. The server above is named "default". Only the config
	// file can set it. Default empty.
	Servers []SurrealServer `yaml:"servers"`
}

// DefaultServer names the server of the surreal section itself among
// surreal.servers.
const DefaultServer = "default"

// SurrealServer is one more SurrealDB server. Keys left out take the
// values of the surreal section.
type SurrealServer struct {
	// Name is how tables refer to it: lower-case letters, digits and _,
	// starting with a letter; not "default". Required.
	Name string `yaml:"name"`
	// URL is its RPC endpoint, as surreal.url. Required.
	URL       string `yaml:"url"`
	Namespace string `yaml:"namespace"`
	Database  string `yaml:"database"`
	Username  string `yaml:"username"`
	Password  Secret `yaml:"password"`
	CAFile    string `yaml:"ca_file"`
}

// Server returns how to reach the server called name ("default" is the
// surreal section itself), with the keys it leaves out taken from the
// surreal section, and whether there is such a server.
func (s Surreal) Server(name string) (Surreal, bool) {
	out := s
	out.Servers = nil
	if name == DefaultServer || name == "" {
		return out, true
	}
	for _, sv := range s.Servers {
		if sv.Name != name {
			continue
		}
		out.URL = sv.URL
		if sv.Namespace != "" {
			out.Namespace = sv.Namespace
		}
		if sv.Database != "" {
			out.Database = sv.Database
		}
		if sv.Username != "" {
			out.Username = sv.Username
		}
		if sv.Password != "" {
			out.Password = sv.Password
		}
		if sv.CAFile != "" {
			out.CAFile = sv.CAFile
		}
		return out, true
	}
	return Surreal{}, false
}

// ServerNames lists "default" and the names of surreal.servers, in order.
func (s Surreal) ServerNames() []string {
	names := []string{DefaultServer}
	for _, sv := range s.Servers {
		names = append(names, sv.Name)
	}
	return names
}

// Dev configures the local PostgreSQL and SurrealDB that `pgsurreal dev`
// starts for development and tests.
type Dev struct {
	// Dir holds the clusters' data; default .pgsurreal/dev, relative to the
	// working directory.
	Dir string `yaml:"dir"`
	// PGBinDir is where initdb and postgres live; empty means auto-detect.
	PGBinDir string `yaml:"pg_bin_dir"`
	// SurrealPort is the dev SurrealDB server's port; default 8000.
	SurrealPort int `yaml:"surreal_port"`
	// SurrealStorage is surrealkv (on disk, the default), rocksdb (on disk;
	// no cap on one transaction's size) or mem.
	SurrealStorage string `yaml:"surreal_storage"`
	// NodeBin is the Node.js executable that runs the embedded SurrealDB
	// engine; default node.
	NodeBin string `yaml:"node_bin"`
}

// HTTP configures the listener for the API, /metrics and health checks.
type HTTP struct {
	// Listen is host:port; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Token, when set, is the bearer token API requests must carry.
	Token Secret `yaml:"token"`
}

// HA configures high availability: of the `pgsurreal serve` processes
// sharing a sync slot, the one holding a PostgreSQL advisory lock runs
// replication and the transaction resolver, the others serve queries and
// take over when it dies (docs/operations.md).
type HA struct {
	// Enabled makes serve campaign for the leader lease; default true.
	// Off, serve runs everything at once, as a single daemon must.
	Enabled bool `yaml:"enabled"`
	// CheckInterval is how often the leader proves its lock session alive
	// (a check slower than this fails and stops its engines) and how often
	// a standby tries to take the lease; default 1s.
	CheckInterval Duration `yaml:"check_interval"`
	// FencingMargin is how long a new leader waits after taking the lock
	// before it starts, so a leader that lost it has stopped first; at
	// least 2*check_interval + 500ms, default 4s. A deposed leader's
	// engines get fencing_margin - 2*check_interval to stop.
	FencingMargin Duration `yaml:"fencing_margin"`
}

// Reverse configures the replication from SurrealDB into PostgreSQL: the
// changefeeds of the listed SurrealDB tables are applied to PostgreSQL
// tables, each SurrealDB transaction atomically, in versionstamp order.
type Reverse struct {
	// Tables lists the SurrealDB tables replicated into PostgreSQL. Empty
	// (the default) leaves the reverse direction off.
	Tables []ReverseTable `yaml:"tables"`
	// Retention is the changefeed retention pgsurreal defines on those
	// tables (DEFINE/ALTER TABLE ... CHANGEFEED). If the reverse
	// direction is stopped for longer, changes may be gone and it stops
	// with the remedy. Default 24h.
	Retention Duration `yaml:"retention"`
	// PollInterval is how long the reader waits before asking again
	// after finding no new changes. Default 100ms.
	PollInterval Duration `yaml:"poll_interval"`
	// BatchSize is the most changefeed entries read per table and
	// request (SHOW CHANGES ... LIMIT), 1..100000. Default 1000.
	BatchSize int `yaml:"batch_size"`
	// Settle is how old, by SurrealDB's clock, a change must be before it
	// is applied. SurrealDB fixes a transaction's versionstamp before its
	// commit is visible, so a feed read can show a later transaction
	// before an earlier one; waiting this long keeps the order (and keeps
	// the earlier one from being skipped). Default 1s.
	Settle Duration `yaml:"settle"`
	// Origin names the PostgreSQL replication origin the reverse direction
	// writes under, so that sync skips those transactions (no loop); the
	// origin is "<origin>_<postgres.database>". Default pgsurreal.
	Origin string `yaml:"origin"`
	// Schema is the PostgreSQL schema of pgsurreal's own tables for the
	// reverse direction (position, conflict log). Default pgsurreal.
	Schema string `yaml:"schema"`
}

// Federation configures federated queries: SQL over PostgreSQL tables and
// SurrealDB tables (schema surreal), answered with PostgreSQL's semantics.
type Federation struct {
	// Listen is the PostgreSQL wire protocol server's host:port in
	// `pgsurreal serve`; "off" disables it. Default 127.0.0.1:6543.
	Listen string `yaml:"listen"`
	// User is the user name clients log in to the wire protocol server
	// with; default pgsurreal.
	User string `yaml:"user"`
	// Password is that user's password; default "pgsurreal" (change it
	// outside development).
	Password Secret `yaml:"password"`
	// Auth is scram-sha-256 (the default) or password (cleartext, only
	// sensible over TLS).
	Auth string `yaml:"auth"`
	// TLSCert and TLSKey, when both set, are the PEM files of the
	// server's certificate and key: clients may then use sslmode=require.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Consistency is the default read mode: eventual (read SurrealDB as
	// it is) or read_your_writes (first wait until the sync has applied
	// PostgreSQL's WAL position taken at query start). A session changes
	// it with SET pgsurreal.consistency, a request with "consistency".
	Consistency string `yaml:"consistency"`
	// WaitTimeout bounds read_your_writes' wait; default 5s.
	WaitTimeout Duration `yaml:"wait_timeout"`
	// BindJoinCap is the most join keys fetched from PostgreSQL to
	// restrict a SurrealDB table by (above it, the table is read whole);
	// default 10000.
	BindJoinCap int `yaml:"bind_join_cap"`
	// SlowQuery is the latency above which a federated query is logged;
	// default 1s.
	SlowQuery Duration `yaml:"slow_query"`
	// Cache is the Redis cache of SurrealDB sub-results.
	Cache Cache `yaml:"cache"`
	// Tables gives the columns of schemaless SurrealDB tables (a
	// schemafull table's columns come from its DEFINE FIELDs): each such
	// table has id text, doc jsonb and these.
	Tables []FederatedTable `yaml:"tables"`
}

// Verify configures the comparison of PostgreSQL rows with their
// SurrealDB records (see docs/operations.md).
type Verify struct {
	// Schedule is when `pgsurreal serve` verifies on its own: a cron
	// expression of five fields ("0 3 * * *") or a descriptor such as
	// @daily or "@every 6h". Empty (the default) turns it off.
	Schedule string `yaml:"schedule"`
	// SamplePercent is the share of rows a scheduled verify compares,
	// 1-100 (PostgreSQL tables are sampled and looked up by key, and
	// their counts compared); default 100 (all). `pgsurreal verify`
	// always compares all.
	SamplePercent int `yaml:"sample_percent"`
	// Repair makes the scheduled verify repair the differences it
	// confirms; default false (report and alert only).
	Repair bool `yaml:"repair"`
	// ChunkRows is the number of rows hashed together; a chunk whose
	// hashes differ is compared row by row. Default 5000.
	ChunkRows int `yaml:"chunk_rows"`
	// WaitTimeout bounds the wait for replication to catch up before a
	// mismatch is checked again; default 10s. Past it the mismatch is
	// reported with the note that replication is behind.
	WaitTimeout Duration `yaml:"wait_timeout"`
}

// Backup configures coordinated backups of both databases.
type Backup struct {
	// Schedule is when `pgsurreal serve` backs up on its own (cron, as
	// verify.schedule); empty (the default) turns it off.
	Schedule string `yaml:"schedule"`
	// Dir is where backups go, one subdirectory each; required with a
	// schedule, and the default of `pgsurreal backup --to`.
	Dir string `yaml:"dir"`
	// Keep is how many backups retention keeps in Dir (newest first);
	// default 7, 0 keeps any number.
	Keep int `yaml:"keep"`
	// MaxAge removes backups older than it; default 0 (no age limit).
	MaxAge Duration `yaml:"max_age"`
	// Jobs is pg_dump's and pg_restore's parallel jobs; default 2.
	Jobs int `yaml:"jobs"`
}

// Alerts configures the conditions `pgsurreal serve` evaluates itself
// (the same as deploy/prometheus/alerts.yml) and where it sends them.
type Alerts struct {
	// Webhooks are URLs that receive a JSON POST when an alert fires and
	// when it resolves (retried with backoff). Empty: alerts are only
	// logged and exported as metrics.
	Webhooks []string `yaml:"webhooks"`
	// EvaluateEvery is how often the conditions are checked; default 15s.
	EvaluateEvery Duration `yaml:"evaluate_every"`
	// For is how long a condition must hold before its alert fires;
	// default 1m.
	For Duration `yaml:"for"`
	// LagThreshold is the replication lag (either direction) above which
	// /readyz fails and the lag alert fires; default 1m.
	LagThreshold Duration `yaml:"lag_threshold"`
	// SlotRetainedBytes is the WAL a replication slot may retain before
	// the alert fires; default 1 GiB.
	SlotRetainedBytes int `yaml:"slot_retained_bytes"`
	// DiskUsagePercent is the use of a watched filesystem above which the
	// disk alert fires; default 90.
	DiskUsagePercent int `yaml:"disk_usage_percent"`
	// DiskPaths are the directories whose filesystems are watched (data
	// directories of PostgreSQL and SurrealDB, backup.dir); default: the
	// dev stack's directory and backup.dir when set.
	DiskPaths []string `yaml:"disk_paths"`
	// InDoubtAge is how old a distributed transaction waiting for its
	// outcome may get before the alert fires; default 5m.
	InDoubtAge Duration `yaml:"in_doubt_age"`
	// ErrorRatePercent is the share of failed API requests and federated
	// queries over 5 minutes above which the error alert fires; default 5.
	ErrorRatePercent int `yaml:"error_rate_percent"`
	// MaintenanceMaxAge is how long since the last successful scheduled
	// verify or backup before its alert fires; default 26h.
	MaintenanceMaxAge Duration `yaml:"maintenance_max_age"`
}

// Publish configures the change stream on NATS JetStream: every change
// sync applies is published, before its SurrealDB commit, to the stream
// Stream under the subject <SubjectPrefix>.<schema>.<table>, with a
// deduplication id derived from its source position (docs/publish.md).
type Publish struct {
	// NATSURL is the NATS server, nats://host:4222 (several separated by
	// commas; credentials in the URL are never logged). Empty (the
	// default) turns publication off.
	NATSURL string `yaml:"nats_url"`
	// Stream is the JetStream stream, created when missing. It belongs to
	// one sync (one slot): pgsurreal is its only writer. Default PGSURREAL.
	Stream string `yaml:"stream"`
	// SubjectPrefix starts every subject; a stream pgsurreal creates
	// takes <prefix>.>. Default pgsurreal.changes.
	SubjectPrefix string `yaml:"subject_prefix"`
	// DuplicateWindow is the deduplication window of a stream pgsurreal
	// creates: how long JetStream remembers message ids. Default 10m.
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// Timeout bounds the wait for JetStream's acknowledgements of one
	// batch of changes before it is retried; default 10s.
	Timeout Duration `yaml:"timeout"`
	// Replicas is the replica count of a stream pgsurreal creates, 1..5;
	// default 1.
	Replicas int `yaml:"replicas"`
	// MaxAge is the age past which a stream pgsurreal creates drops
	// messages; 0 (the default) keeps them all.
	MaxAge Duration `yaml:"max_age"`
}

// Cache configures the Redis cache of SurrealDB sub-results.
type Cache struct {
	// Redis is the server's URL, e.g. redis://127.0.0.1:6379/0; empty
	// (the default) turns the cache off.
	Redis string `yaml:"redis"`
	// TTL is the safety net: entries expire after it even if no change
	// invalidated them. Default 5m.
	TTL Duration `yaml:"ttl"`
	// Prefix starts every key pgsurreal writes; default "pgsurreal:".
	Prefix string `yaml:"prefix"`
}

// FederatedTable names the columns of a schemaless SurrealDB table.
type FederatedTable struct {
	// Name is the SurrealDB table (required).
	Name string `yaml:"name"`
	// Columns are extracted from each record, as in reverse.tables.
	Columns []ReverseColumn `yaml:"columns"`
}

// ReverseTable maps one SurrealDB table to a PostgreSQL table.
type ReverseTable struct {
	// Name is the SurrealDB table (required).
	Name string `yaml:"name"`
	// Target is the PostgreSQL table, "schema.table" or "table" (schema
	// public). Default public.<name>. Created when missing.
	Target string `yaml:"target"`
	// Columns are the fields of a schemaless table extracted into typed
	// columns next to `id text` and `doc jsonb`. Schemafull tables get a
	// column per defined field and ignore this.
	Columns []ReverseColumn `yaml:"columns"`
	// TwoWay marks a table that is also replicated from PostgreSQL by
	// sync (and written on both sides).
	TwoWay bool `yaml:"two_way"`
	// Conflict decides a two-way table's conflicts: postgres or surreal
	// (that side's write wins) or last_writer_wins (by commit time).
	// Default last_writer_wins.
	Conflict string `yaml:"conflict"`
}

// ReverseColumn is a field of a schemaless SurrealDB table extracted into
// a PostgreSQL column.
type ReverseColumn struct {
	// Name is the PostgreSQL column (required).
	Name string `yaml:"name"`
	// Field is the document field, dotted for nested fields (a.b).
	// Default: Name.
	Field string `yaml:"field"`
	// Type is the PostgreSQL type, one of text, bigint, integer,
	// double precision, numeric, boolean, timestamptz, uuid, jsonb.
	// Default text.
	Type string `yaml:"type"`
}

// Sync configures what is replicated from PostgreSQL into SurrealDB and
// how. Table names and patterns are "schema.table"; a bare "table" means
// "public.table", and Load normalises it so.
type Sync struct {
	// Slot is the logical replication slot pgsurreal creates and reads;
	// PostgreSQL allows lower-case letters, digits and _, at most 63 of
	// them. Default pgsurreal.
	Slot string `yaml:"slot"`
	// Publication is the PostgreSQL publication the slot streams; at most
	// 63 bytes. Default pgsurreal.
	Publication string `yaml:"publication"`
	// Include lists the tables to replicate as "schema.table" patterns in
	// which '*' matches any run of characters within the schema or the
	// table part (see MatchPattern). Default ["public.*"].
	Include []string `yaml:"include"`
	// Exclude lists patterns, written as in Include, of tables never
	// replicated even when Include matches them. Default empty.
	Exclude []string `yaml:"exclude"`
	// Schema is how SurrealDB tables are defined: schemaless (the
	// default) or schemafull, with fields typed from the PostgreSQL
	// columns.
	Schema string `yaml:"schema"`
	// Nulls is what a SQL NULL becomes: null (the default, a SurrealDB
	// null) or omit (the field is left out of the record).
	Nulls string `yaml:"nulls"`
	// BatchSize is the most row changes grouped into one SurrealDB
	// transaction, 1..100000; default 1000.
	BatchSize int `yaml:"batch_size"`
	// SnapshotWorkers is how many tables the initial snapshot copies at
	// once, 1..64; default 2.
	SnapshotWorkers int `yaml:"snapshot_workers"`
	// SnapshotChunkRows is how many rows one snapshot chunk reads, at
	// least 100; default 50000.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// Heartbeat is how often a logical decoding message is written to
	// PostgreSQL, so that a quiet database still lets the slot advance and
	// release WAL; default 10s.
	Heartbeat Duration `yaml:"heartbeat"`
	// StatusInterval is how often a standby status update confirms the
	// replicated position to PostgreSQL; default 1s.
	StatusInterval Duration `yaml:"status_interval"`
	// DeadLetter, when set, is a PostgreSQL table "schema.name" that
	// receives each change SurrealDB rejects, and replication goes on.
	// Empty (the default) means such a change stops the pipeline.
	DeadLetter string `yaml:"dead_letter"`
	// Tables holds settings for single tables; a table Include matches
	// that is not listed here is replicated with the defaults. Only the
	// config file can set it. Default empty.
	Tables []Table `yaml:"tables"`
}

// Table holds the settings of one replicated table.
type Table struct {
	// Name is the PostgreSQL table, "schema.table" or "table" (meaning
	// public.table); required. See SchemaName and TableName.
	Name string `yaml:"name"`
	// Target is the SurrealDB table; empty means the PostgreSQL table's
	// name (without its schema).
	Target string `yaml:"target"`
	// Namespace, when set, overrides surreal.namespace for this table.
	Namespace string `yaml:"namespace"`
	// Database, when set, overrides surreal.database for this table.
	Database string `yaml:"database"`
	// Key lists the columns that identify a row of a table without a
	// primary key.
	Key []string `yaml:"key"`
	// Columns, when not empty, are the only columns replicated.
	Columns []string `yaml:"columns"`
	// ExcludeColumns are never replicated.
	ExcludeColumns []string `yaml:"exclude_columns"`
	// Transforms maps a column to what is done to its value: drop (leave
	// it out), mask (replace it) or hash (replace it by a hash).
	Transforms map[string]string `yaml:"transforms"`
	// Edges lists foreign keys of this table to replicate as SurrealDB
	// graph edges.
	Edges []Edge `yaml:"edges"`
	// Server, when set, is the SurrealDB server (a name from
	// surreal.servers, or "default") that holds the table.
	Server string `yaml:"server"`
	// Partition, when set (By is not empty), spreads the table's records
	// over several SurrealDB servers by a key column
	// (docs/partitioning.md).
	Partition Partition `yaml:"partition"`
}

// Partition spreads a table's records over SurrealDB servers by the value
// of one of its key columns. As in PostgreSQL's partitioned tables, the
// column must be part of the key, so a record's server follows from its
// id and a record never moves between servers.
type Partition struct {
	// Column is a key column of the table. Required.
	Column string `yaml:"column"`
	// By is hash (the value's hash picks one of Servers) or value
	// (Values lists which values go where). Required.
	By string `yaml:"by"`
	// Servers are the servers a hash partition spreads over, at least
	// two; their order is part of the placement (changing it needs a
	// resync).
	Servers []string `yaml:"servers"`
	// Values maps a column value (as text) to the server that holds its
	// rows, for by: value.
	Values map[string]string `yaml:"values"`
	// Other is the server of values not listed in Values; empty means such
	// a row stops the sync (or goes to the dead-letter table).
	Other string `yaml:"other"`
}

// Set reports whether the table is partitioned (any key given).
func (p Partition) Set() bool {
	return p.By != "" || p.Column != "" || len(p.Servers) > 0 || len(p.Values) > 0 || p.Other != ""
}

// PartitionServers lists the servers a partition uses: Servers for hash;
// for value, the servers of Values and Other, sorted.
func (p Partition) PartitionServers() []string {
	if p.By == "hash" {
		return p.Servers
	}
	var out []string
	for _, name := range p.Values {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if p.Other != "" && !slices.Contains(out, p.Other) {
		out = append(out, p.Other)
	}
	slices.Sort(out)
	return out
}

// Edge replicates a foreign key as a graph edge table from the row to the
// row it references.
type Edge struct {
	// Columns are the foreign-key columns of the table; at least one.
	Columns []string `yaml:"columns"`
	// Name is the edge table, e.g. billed_to; required.
	Name string `yaml:"name"`
}

// EnvPrefix starts every environment variable that overrides a config key.
const EnvPrefix = "PGSURREAL_"

// ConfigEnv names the config file when --config is not given. The CLI reads
// it; Load ignores it.
const ConfigEnv = "PGSURREAL_CONFIG"

// TestEnvPrefix starts variables of the test suite (PGSURREAL_TEST_...),
// which are never config keys and never reported as unknown.
const TestEnvPrefix = "PGSURREAL_TEST_"

// IgnoredEnv lists PGSURREAL_ variables that are not config keys, so Load
// does not report them as unknown. Add to it only from an init function.
var IgnoredEnv = map[string]bool{
	ConfigEnv:                    true,
	"PGSURREAL_TEST_PG_URL":      true,
	"PGSURREAL_TEST_SURREAL_URL": true,
	"PGSURREAL_TEST_KEEP":        true,
}

// Default returns the configuration that works against the dev clusters
// started by `pgsurreal dev` with no file, variable or flag at all.
func Default() Config {
	return Config{
		Log: Log{Level: "info", Format: "text"},
		Postgres: Postgres{
			Host:           "127.0.0.1",
			Port:           54329,
			User:           "pgsurreal",
			Password:       "pgsurreal",
			Database:       "pgsurreal",
			SSLMode:        "prefer",
			MaxConns:       8,
			ConnectTimeout: Duration{5 * time.Second},
		},
		Surreal: Surreal{
			URL:       "ws://127.0.0.1:8000/rpc",
			Namespace: "pgsurreal",
			Database:  "pgsurreal",
			Username:  "root",
			Password:  "root",
			PoolSize:  4,
			Timeout:   Duration{30 * time.Second},
			Servers:   []SurrealServer{},
		},
		Dev: Dev{
			Dir:            ".pgsurreal/dev",
			SurrealPort:    8000,
			SurrealStorage: "surrealkv",
			NodeBin:        "node",
		},
		HTTP: HTTP{Listen: "127.0.0.1:8080"},
		HA:   HA{Enabled: true, CheckInterval: Duration{time.Second}, FencingMargin: Duration{4 * time.Second}},
		Sync: Sync{
			Slot:              "pgsurreal",
			Publication:       "pgsurreal",
			Include:           []string{"public.*"},
			Exclude:           []string{},
			Schema:            "schemaless",
			Nulls:             "null",
			BatchSize:         1000,
			SnapshotWorkers:   2,
			SnapshotChunkRows: 50000,
			Heartbeat:         Duration{10 * time.Second},
			StatusInterval:    Duration{time.Second},
			Tables:            []Table{},
		},
		Reverse: Reverse{
			Retention:    Duration{24 * time.Hour},
			PollInterval: Duration{100 * time.Millisecond},
			BatchSize:    1000,
			Settle:       Duration{time.Second},
			Origin:       "pgsurreal",
			Schema:       "pgsurreal",
			Tables:       []ReverseTable{},
		},
		Federation: Federation{
			Listen:      "127.0.0.1:6543",
			User:        "pgsurreal",
			Password:    "pgsurreal",
			Auth:        "scram-sha-256",
			Consistency: "eventual",
			WaitTimeout: Duration{5 * time.Second},
			BindJoinCap: 10000,
			SlowQuery:   Duration{time.Second},
			Cache:       Cache{TTL: Duration{5 * time.Minute}, Prefix: "pgsurreal:"},
			Tables:      []FederatedTable{},
		},
		Verify: Verify{SamplePercent: 100, ChunkRows: 5000, WaitTimeout: Duration{10 * time.Second}},
		Backup: Backup{Keep: 7, Jobs: 2},
		Alerts: Alerts{
			Webhooks:          []string{},
			EvaluateEvery:     Duration{15 * time.Second},
			For:               Duration{time.Minute},
			LagThreshold:      Duration{time.Minute},
			SlotRetainedBytes: 1 << 30,
			DiskUsagePercent:  90,
			DiskPaths:         []string{},
			InDoubtAge:        Duration{5 * time.Minute},
			ErrorRatePercent:  5,
			MaintenanceMaxAge: Duration{26 * time.Hour},
		},
		Publish: Publish{
			Stream:          "PGSURREAL",
			SubjectPrefix:   "pgsurreal.changes",
			DuplicateWindow: Duration{10 * time.Minute},
			Timeout:         Duration{10 * time.Second},
			Replicas:        1,
		},
	}
}

// Sources returns, for each dotted key (such as "postgres.port") that the
// file, the environment or --set gave a value, where it came from:
// "file:line", "env PGSURREAL_POSTGRES_PORT" or "--set". Keys left at their
// default are absent. A list from the file also has a key per item, with
// a 0-based index, and the items' own keys: "sync.include[1]",
// "sync.tables[2]" (the line of the item), "sync.tables[2].name",
// "sync.tables[2].transforms.email". The map is a copy.
func (c Config) Sources() map[string]string {
	m := maps.Clone(c.sources)
	if m == nil {
		m = map[string]string{}
	}
	return m
}

// Duration is a time.Duration written in config as a Go duration string
// such as "5s", "250ms" or "1m30s". A bare number is refused, because
// nobody can tell whether 30 meant seconds or milliseconds.
type Duration struct {
	time.Duration
}

// parseDuration parses s or returns the message of an *Error.
func parseDuration(s string) (time.Duration, string) {
	if isNumber(s) {
		return 0, fmt.Sprintf("%q is not a duration, add a unit such as %q", s, s+"s")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Sprintf("%q is not a duration such as \"5s\", \"250ms\" or \"1m30s\"", s)
	}
	return d, ""
}

// isNumber reports whether s is a plain decimal number such as 30 or 1.5.
func isNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	if s == "" || s == "." {
		return false
	}
	dot := false
	for _, r := range s {
		switch {
		case r == '.' && !dot:
			dot = true
		case r < '0' || r > '9':
			return false
		}
	}
	return true
}

// MarshalText writes the duration as time.Duration.String does, so JSON,
// YAML and slog show "5s" rather than nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration string; it lets encoding/json read one.
func (d *Duration) UnmarshalText(b []byte) error {
	v, msg := parseDuration(string(b))
	if msg != "" {
		return &Error{Msg: msg}
	}
	d.Duration = v
	return nil
}

// UnmarshalYAML lets code that decodes YAML on its own (not through Load)
// read a Duration too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &Error{Source: fmt.Sprintf("line %d", n.Line), Msg: "a duration must be a string such as \"5s\""}
	}
	return d.UnmarshalText([]byte(n.Value))
}

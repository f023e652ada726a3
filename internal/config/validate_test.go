package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateDefault(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{"log format", func(c *Config) { c.Log.Format = "xml" }, `log.format: "xml" is not one of text, json`},
		{"empty host", func(c *Config) { c.Postgres.Host = " " },
			"postgres.host: required, set it in the config file or PGSURREAL_POSTGRES_HOST"},
		{"max conns", func(c *Config) { c.Postgres.MaxConns = 1001 }, "postgres.max_conns: 1001 is out of range, use 1..1000"},
		{"negative timeout", func(c *Config) { c.Postgres.ConnectTimeout = Duration{-time.Second} },
			`postgres.connect_timeout: "-1s" must be greater than zero, e.g. "5s"`},
		{"url without scheme", func(c *Config) { c.Surreal.URL = "127.0.0.1:8000" },
			`surreal.url: not a URL (first path segment in URL cannot contain colon), e.g. ws://127.0.0.1:8000/rpc`},
		{"url without scheme 2", func(c *Config) { c.Surreal.URL = "sdb.example.com/rpc" },
			`surreal.url: "sdb.example.com/rpc" has no scheme, use ws:// or wss://, e.g. ws://127.0.0.1:8000/rpc`},
		{"url password hidden", func(c *Config) { c.Surreal.URL = "ws://u:pw@/rpc" },
			`surreal.url: "ws://u:xxxxx@/rpc" has no host, e.g. ws://127.0.0.1:8000/rpc`},
		{"https accepted", func(c *Config) { c.Surreal.URL = "https://sdb.example.com" }, ""},
		{"storage", func(c *Config) { c.Dev.SurrealStorage = "leveldb" }, `dev.surreal_storage: "leveldb" is not one of surrealkv, rocksdb, mem`},
		{"dev port", func(c *Config) { c.Dev.SurrealPort = -1 }, "dev.surreal_port: -1 is out of range, use 1..65535"},
		{"listen port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:99999" },
			`http.listen: port "99999" in "127.0.0.1:99999" is not a number in 0..65535`},
		{"listen any port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:0" }, ""},
		{"optional files and token", func(c *Config) { c.Surreal.CAFile = "testdata/ca.pem"; c.HTTP.Token = "" }, ""},
		{"node", func(c *Config) { c.Dev.NodeBin = "" }, "dev.node_bin: required, set it in the config file or PGSURREAL_DEV_NODE_BIN"},
		{"slot 63", func(c *Config) { c.Sync.Slot = strings.Repeat("a", 63) }, ""},
		{"slot 64", func(c *Config) { c.Sync.Slot = strings.Repeat("a", 64) },
			`sync.slot: "` + strings.Repeat("a", 64) + `" is not a replication slot name: PostgreSQL allows only lower-case letters, digits and _, 1 to 63 of them`},
		{"empty slot", func(c *Config) { c.Sync.Slot = "" },
			`sync.slot: "" is not a replication slot name: PostgreSQL allows only lower-case letters, digits and _, 1 to 63 of them`},
		{"empty publication", func(c *Config) { c.Sync.Publication = "" },
			"sync.publication: required, set it in the config file or PGSURREAL_SYNC_PUBLICATION"},
		{"publication 63 bytes", func(c *Config) { c.Sync.Publication = strings.Repeat("é", 31) + "x" }, ""},
		{"publication 64 bytes", func(c *Config) { c.Sync.Publication = strings.Repeat("é", 32) },
			`sync.publication: "` + strings.Repeat("é", 32) + `" is 64 bytes long, PostgreSQL names are at most 63`},
		{"nil include", func(c *Config) { c.Sync.Include = nil },
			"sync.include: empty, so nothing would be replicated; list patterns such as public.*"},
		{"bare names accepted unnormalised", func(c *Config) {
			c.Sync.Include = []string{"orders", "*"}
			c.Sync.DeadLetter = "dead"
			c.Sync.Tables = []Table{{Name: "orders"}}
		}, ""},
		{"schemafull omit", func(c *Config) { c.Sync.Schema = "schemafull"; c.Sync.Nulls = "omit" }, ""},
		{"nulls", func(c *Config) { c.Sync.Nulls = "NULL" }, `sync.nulls: "NULL" is not one of null, omit`},
		{"batch max", func(c *Config) { c.Sync.BatchSize = 100001 }, "sync.batch_size: 100001 is out of range, use 1..100000"},
		{"workers", func(c *Config) { c.Sync.SnapshotWorkers = 0 }, "sync.snapshot_workers: 0 is out of range, use 1..64"},
		{"chunk rows", func(c *Config) { c.Sync.SnapshotChunkRows = 100 }, ""},
		{"dead letter pattern", func(c *Config) { c.Sync.DeadLetter = "ops.*" },
			`sync.dead_letter: "ops.*" is a pattern, name one table (sync.include and sync.exclude take patterns)`},
		{"duplicate tables without sources", func(c *Config) {
			c.Sync.Tables = []Table{{Name: "orders"}, {Name: "sales.orders"}, {Name: "public.orders"}}
		}, `sync.tables[2].name: table "public.orders" is listed twice (first as sync.tables[0].name)`},
		{"blank overrides", func(c *Config) {
			c.Sync.Tables = []Table{{Name: "a", Target: " ", Database: "\t"}}
		}, `sync.tables[0].target: " " is empty, leave the key out to use the PostgreSQL table's name` + "\n" +
			`sync.tables[0].database: "\t" is empty, leave the key out to use surreal.database`},
		{"transform", func(c *Config) {
			c.Sync.Tables = []Table{{Name: "a", Transforms: map[string]string{"x": "hash", "b": "Mask", "a": "drop"}}}
		}, `sync.tables[0].transforms.b: "Mask" is not one of drop, mask, hash`},
		{"servers and placement", func(c *Config) {
			c.Surreal.Servers = []SurrealServer{{Name: "eu", URL: "ws://10.0.0.2:8000/rpc"}, {Name: "us", URL: "wss://us.example/rpc", Namespace: "shop"}}
			c.Sync.Tables = []Table{
				{Name: "orders", Server: "eu"},
				{Name: "events", Partition: Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "UK": "eu", "US": "default"}, Other: "us"}},
				{Name: "clicks", Partition: Partition{Column: "id", By: "hash", Servers: []string{"default", "eu", "us"}}},
			}
		}, ""},
		{"bad servers", func(c *Config) {
			c.Surreal.Servers = []SurrealServer{{Name: "default", URL: "ws://a/rpc"}, {Name: "EU"}, {Name: "eu", URL: "ftp://x"}, {Name: "eu", URL: "ws://b/rpc"}}
		}, `surreal.servers[0].name: "default" is the surreal section's own server, choose another name` + "\n" +
			`surreal.servers[1].name: "EU" is not a server name, use lower-case letters, digits and _, starting with a letter` + "\n" +
			`surreal.servers[1].url: required, give the server's RPC endpoint (e.g. ws://10.0.0.2:8000/rpc)` + "\n" +
			`surreal.servers[2].url: scheme "ftp" is not one of ws, wss, http, https, e.g. ws://127.0.0.1:8000/rpc` + "\n" +
			`surreal.servers[3].name: server "eu" is listed twice (first surreal.servers[2])`},
		{"bad placement", func(c *Config) {
			c.Surreal.Servers = []SurrealServer{{Name: "eu", URL: "ws://10.0.0.2:8000/rpc"}}
			c.Sync.Tables = []Table{
				{Name: "a", Server: "asia"},
				{Name: "b", Server: "eu", Partition: Partition{Column: "id", By: "hash", Servers: []string{"eu", "eu"}}},
				{Name: "c", Key: []string{"id"}, Partition: Partition{Column: "region", By: "value", Values: map[string]string{"EU": "eu", "US": "asia"}}},
				{Name: "d", Partition: Partition{Column: "id", By: "range"}},
			}
		}, `sync.tables[0].server: no SurrealDB server is called "asia", name one of default, eu or add it to surreal.servers` + "\n" +
			`sync.tables[1].partition: a table has either server or partition, not both: remove one` + "\n" +
			`sync.tables[1].partition.servers[1]: server "eu" is listed twice` + "\n" +
			`sync.tables[2].partition.column: "region" is not in sync.tables[2].key: a partition column must be part of the key, add it to key` + "\n" +
			`sync.tables[2].partition.values.US: no SurrealDB server is called "asia", name one of default, eu or add it to surreal.servers` + "\n" +
			`sync.tables[3].partition.by: "range" is not a partition method, use hash or value`},
		{"empty key column", func(c *Config) {
			c.Sync.Tables = []Table{{Name: "a", Key: []string{"id", " "}}}
		}, `sync.tables[0].key[1]: " " is not a column name`},
		{"edge", func(c *Config) {
			c.Sync.Tables = []Table{{Name: "a", Edges: []Edge{{Name: "e"}, {Columns: []string{"x", "x"}, Name: " "}}}}
		}, "sync.tables[0].edges[0].columns: required, list the foreign-key columns of a\n" +
			`sync.tables[0].edges[1].columns[1]: column "x" is listed twice` + "\n" +
			"sync.tables[0].edges[1].name: required, name the edge table, e.g. billed_to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

// TestValidateZero: the zero Config reports every required key, each one
// an *Error carrying its key.
func TestValidateZero(t *testing.T) {
	t.Parallel()
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("zero Config is valid")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%T is not a joined error", err)
	}
	keys := map[string]bool{}
	for _, e := range joined.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) || ce.Key == "" {
			t.Errorf("not an *Error with a key: %v", e)
			continue
		}
		keys[ce.Key] = true
	}
	for _, k := range []string{"log.level", "postgres.host", "postgres.port", "surreal.url", "surreal.timeout", "dev.dir", "http.listen",
		"sync.slot", "sync.publication", "sync.include", "sync.nulls", "sync.batch_size", "sync.heartbeat"} {
		if !keys[k] {
			t.Errorf("no error for %s in:\n%v", k, err)
		}
	}
	if strings.Contains(err.Error(), "http.token") || strings.Contains(err.Error(), "postgres.password") ||
		strings.Contains(err.Error(), "sync.dead_letter") || strings.Contains(err.Error(), "sync.tables") {
		t.Errorf("optional keys reported:\n%v", err)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"host", "port", "user", "password", "database", "sslmode", "max_conns"}
	tests := []struct{ in, want string }{
		{"hots", "host"},
		{"prot", "port"},
		{"passwd", "password"},
		{"dtabase", "database"},
		{"SSLMode", "sslmode"},
		{"maxconns", "max_conns"},
		{"colour", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorRendering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Key: "postgres.port", Source: "f.yaml:4", Msg: "m"}, "f.yaml:4: postgres.port: m"},
		{Error{Source: "f.yaml:7", Msg: "m"}, "f.yaml:7: m"},
		{Error{Key: "postgres.port", Source: "env PGSURREAL_POSTGRES_PORT", Msg: "m"}, "PGSURREAL_POSTGRES_PORT: m"},
		{Error{Key: "postgres.port", Source: "--set", Msg: "m"}, "--set postgres.port: m"},
		{Error{Source: "--set", Msg: "m"}, "--set: m"},
		{Error{Key: "postgres.port", Msg: "m"}, "postgres.port: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	inner := errors.New("inner")
	if !errors.Is(&Error{Msg: "m", Err: inner}, inner) {
		t.Error("Unwrap does not reach Err")
	}
}

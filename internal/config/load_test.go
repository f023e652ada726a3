package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testEnv is the environment every file test runs with; nothing from the
// real environment leaks in.
var testEnv = []string{
	"PG_PASSWORD=pg-secret",
	"SURREAL_PASSWORD=surreal-secret",
	"AUDIT_KEY=event_time",
	"HOME=/root",
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		check func(t *testing.T, c Config)
	}{
		{"full.good.yaml", func(t *testing.T, c Config) {
			want := Config{
				Log: Log{Level: "debug", Format: "json"},
				Postgres: Postgres{
					Host: "db.example.com", Port: 5433, User: "replicator", Password: "pg-secret",
					Database: "shop", SSLMode: "verify-full", SSLRootCert: "testdata/ca.pem",
					MaxConns: 16, ConnectTimeout: Duration{250 * time.Millisecond},
				},
				Surreal: Surreal{
					URL: "wss://surreal.example.com:8443/rpc", Namespace: "shop_ns", Database: "shop_db",
					Username: "admin", Password: "surreal-secret", CAFile: "testdata/ca.pem",
					PoolSize: 12, Timeout: Duration{90 * time.Second},
					Servers: []SurrealServer{{Name: "eu", URL: "ws://eu.example:8000/rpc", Namespace: "shop_eu", Password: "surreal-secret"}},
				},
				Dev: Dev{
					Dir: "/var/tmp/pgsurreal-dev", PGBinDir: "/usr/lib/postgresql/15/bin",
					SurrealPort: 8001, SurrealStorage: "mem", NodeBin: "/usr/bin/node",
				},
				HTTP: HTTP{Listen: ":9090", Token: "tok-${literal}-plain"},
				Sync: fullSync(),
				Reverse: Reverse{
					Retention: Duration{2 * time.Hour}, PollInterval: Duration{50 * time.Millisecond},
					BatchSize: 500, Settle: Duration{250 * time.Millisecond}, Origin: "shop_reverse", Schema: "ops",
					Tables: []ReverseTable{{
						Name: "review", Target: "social.review", TwoWay: true, Conflict: "postgres",
						Columns: []ReverseColumn{{Name: "rating", Type: "integer"}, {Name: "author", Field: "author.name"}},
					}},
				},
				Federation: Federation{
					Listen: "127.0.0.1:7543", User: "analyst", Password: "s3cret", Auth: "password",
					Consistency: "read_your_writes", WaitTimeout: Duration{2 * time.Second}, BindJoinCap: 500,
					SlowQuery: Duration{250 * time.Millisecond},
					Cache:     Cache{Redis: "redis://127.0.0.1:6379/2", TTL: Duration{time.Minute}, Prefix: "shop:"},
					Tables:    []FederatedTable{{Name: "review", Columns: []ReverseColumn{{Name: "rating", Type: "integer"}}}},
				},
				Verify: Verify{Schedule: "0 3 * * *", SamplePercent: 10, Repair: true, ChunkRows: 2000, WaitTimeout: Duration{30 * time.Second}},
				Backup: Backup{Schedule: "@daily", Dir: "/var/backups/pgsurreal", Keep: 14, MaxAge: Duration{720 * time.Hour}, Jobs: 4},
				Alerts: Alerts{Webhooks: []string{"https://hooks.example.com/pgsurreal"}, EvaluateEvery: Duration{5 * time.Second},
					For: Duration{30 * time.Second}, LagThreshold: Duration{2 * time.Minute}, SlotRetainedBytes: 5000000000,
					DiskUsagePercent: 80, DiskPaths: []string{"/var/lib/postgresql", "/var/backups"}, InDoubtAge: Duration{10 * time.Minute},
					ErrorRatePercent: 2, MaintenanceMaxAge: Duration{50 * time.Hour}},
				Publish: Publish{NATSURL: "nats://user:pw@nats-1.example.com:4222, nats://nats-2.example.com:4222",
					Stream: "SHOP_CHANGES", SubjectPrefix: "shop.cdc", DuplicateWindow: Duration{time.Hour},
					Timeout: Duration{30 * time.Second}, Replicas: 3, MaxAge: Duration{168 * time.Hour}},
				HA: HA{Enabled: false, CheckInterval: Duration{2 * time.Second}, FencingMargin: Duration{10 * time.Second}},
			}
			checkSync(t, c.Sync, want.Sync)
			assertSame(t, c, want)
			src := c.Sources()
			for key, want := range map[string]string{
				"postgres.port":                     "testdata/full.good.yaml:7",
				"http.token":                        "testdata/full.good.yaml:33",
				"sync.include":                      "testdata/full.good.yaml:37",
				"sync.include[1]":                   "testdata/full.good.yaml:39",
				"sync.exclude[1]":                   "testdata/full.good.yaml:41",
				"sync.tables":                       "testdata/full.good.yaml:50",
				"sync.tables[0]":                    "testdata/full.good.yaml:51",
				"sync.tables[0].name":               "testdata/full.good.yaml:51",
				"sync.tables[0].transforms":         "testdata/full.good.yaml:62",
				"sync.tables[0].transforms.card_no": "testdata/full.good.yaml:64",
				"sync.tables[0].edges[1]":           "testdata/full.good.yaml:69",
				"sync.tables[0].edges[1].name":      "testdata/full.good.yaml:70",
				"sync.tables[1]":                    "testdata/full.good.yaml:71",
				"sync.tables[1].columns":            "testdata/full.good.yaml:72",
				"sync.tables[2].key[1]":             "testdata/full.good.yaml:77",
			} {
				if got := src[key]; got != want {
					t.Errorf("source of %s = %q, want %q", key, got, want)
				}
			}
			// Every key is set; the other sources are items of lists.
			for _, f := range fields() {
				if src[f.key] == "" {
					t.Errorf("%s is missing from the file", f.key)
				}
				delete(src, f.key)
			}
			for key := range src {
				if !strings.Contains(key, "[") {
					t.Errorf("source for %s, which is neither a key nor an item", key)
				}
			}
		}},
		{"sync-sparse.good.yaml", func(t *testing.T, c Config) {
			want := Default()
			want.Sync.Include = []string{"public.orders", "public.*"}
			want.Sync.Exclude = []string{}
			want.Sync.Tables = []Table{
				{Name: "public.items", Transforms: map[string]string{}, Edges: []Edge{}},
				{Name: "sales.orders", Transforms: map[string]string{}, Key: []string{}},
			}
			checkSync(t, c.Sync, want.Sync)
			assertSame(t, c, want)
			// An item written "-" then its keys starts on the line of its
			// first key.
			if got := c.Sources()["sync.tables[1]"]; got != "testdata/sync-sparse.good.yaml:10" {
				t.Errorf("source of sync.tables[1] = %q, want the line of its first key", got)
			}
		}},
		{"minimal.good.yaml", func(t *testing.T, c Config) {
			want := Default()
			want.Postgres.Host = "db.example.com"
			want.Postgres.Port = 5433 // quoted in the file: still an integer
			assertSame(t, c, want)
			if got, want := c.Sources(), map[string]string{
				"postgres.host": "testdata/minimal.good.yaml:2",
				"postgres.port": "testdata/minimal.good.yaml:3",
			}; !reflect.DeepEqual(got, want) {
				t.Errorf("Sources() = %v, want %v", got, want)
			}
		}},
		{"empty.good.yaml", func(t *testing.T, c Config) {
			assertSame(t, c, Default())
			if len(c.Sources()) != 0 {
				t.Errorf("Sources() = %v, want none", c.Sources())
			}
		}},
		{"sparse.good.yaml", func(t *testing.T, c Config) {
			want := Default()
			want.Surreal.Namespace = "shared"
			want.Surreal.Database = "shared"
			assertSame(t, c, want)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			c, err := Load(filepath.Join("testdata", tt.file), testEnv, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

// TestGoodFilesCovered keeps the table above in step with testdata.
func TestGoodFilesCovered(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) != 5 {
		t.Errorf("%d good files, TestLoadGood checks 5: add the new ones to its table", len(files))
	}
}

// TestLoadBad loads every testdata/*.bad.yaml and compares the error with
// the file's leading "# want: " lines (one per joined error).
func TestLoadBad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			want := wantLines(t, file)
			_, err := Load(file, testEnv, nil)
			if err == nil {
				t.Fatalf("Load succeeded, want %q", want)
			}
			if got := err.Error(); got != want {
				t.Errorf("error:\n got: %s\nwant: %s", got, want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func wantLines(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for line := range strings.Lines(string(data)) {
		w, ok := strings.CutPrefix(line, "# want: ")
		if !ok {
			break
		}
		want = append(want, strings.TrimRight(w, "\n"))
	}
	if len(want) == 0 {
		t.Fatalf("%s has no leading \"# want: \" line", file)
	}
	return strings.Join(want, "\n")
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"),
			filepath.Join(dir, "nope.yaml") + ": config file does not exist, create it (pgsurreal.example.yaml is a template) or drop --config"},
		{"directory", dir, dir + ": cannot read config file: is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.path, nil, nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Source != tt.path {
				t.Errorf("not an *Error with Source %q: %#v", tt.path, err)
			}
		})
	}
	_, err := Load(filepath.Join(dir, "nope.yaml"), nil, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error does not wrap os.ErrNotExist: %v", err)
	}
}

// TestLoadNothing: no file, or a file that says nothing, gives Default().
func TestLoadNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"comments.yaml": "# nothing here\n\n# yet\n",
		"null.yaml":     "~\n",
		"blank.yaml":    "\n\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"", filepath.Join(dir, "comments.yaml"), filepath.Join(dir, "null.yaml"), filepath.Join(dir, "blank.yaml")} {
		c, err := Load(path, nil, nil)
		if err != nil {
			t.Fatalf("Load(%q): %v", path, err)
		}
		assertSame(t, c, Default())
	}
}

func TestErrorFields(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/type-int.bad.yaml", nil, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("not an *Error: %v", err)
	}
	want := Error{Key: "postgres.port", Source: "testdata/type-int.bad.yaml:4", Msg: `"abc" is not an integer`}
	if *ce != want {
		t.Errorf("got %#v, want %#v", *ce, want)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "alpha", "EMPTY": ""}
	tests := []struct{ in, want, msg string }{
		{"plain $HOME and $", "plain $HOME and $", ""},
		{"${A}", "alpha", ""},
		{"x${A}y${A}", "xalphayalpha", ""},
		{"${EMPTY}", "", ""},
		{"${EMPTY:-d}", "d", ""},
		{"${UNSET:-}", "", ""},
		{"${UNSET:-a:-b}", "a:-b", ""},
		{"$${A}", "${A}", ""},
		{"$$${A}", "$${A}", ""},
		{"${UNSET}", "", "environment variable UNSET is not set, set it or write ${UNSET:-default}"},
		{"${A", "", `"${A" has a ${ with no closing }, write $${ for a literal ${`},
		{"${1A}", "", `"1A" is not a variable name in ${1A}, use letters, digits and _`},
	}
	for _, tt := range tests {
		used := map[string]bool{}
		got, msg := expand(tt.in, env, used)
		if got != tt.want || msg != tt.msg {
			t.Errorf("expand(%q) = %q, %q; want %q, %q", tt.in, got, msg, tt.want, tt.msg)
		}
	}
}

// fullSync is the sync section of testdata/full.good.yaml.
func fullSync() Sync {
	cols := []string{"id", "customer_id", "email", "card_no"}
	return Sync{
		Slot:              "shop_slot_1",
		Publication:       "shop-pub",
		Include:           []string{"sales.*", "public.orders", "*.audit_log"},
		Exclude:           []string{"sales.tmp_*", "public.*_backup"},
		Schema:            "schemafull",
		Nulls:             "omit",
		BatchSize:         250,
		SnapshotWorkers:   8,
		SnapshotChunkRows: 100,
		Heartbeat:         Duration{30 * time.Second},
		StatusInterval:    Duration{500 * time.Millisecond},
		DeadLetter:        "ops.dead_letter",
		Tables: []Table{
			{
				Name:           "sales.orders",
				Target:         "order",
				Namespace:      "shop",
				Database:       "sales",
				Key:            []string{"order_no"},
				Columns:        cols,
				ExcludeColumns: []string{"notes"},
				Transforms:     map[string]string{"email": "hash", "card_no": "mask", "ssn": "drop"},
				Edges: []Edge{
					{Columns: []string{"customer_id"}, Name: "billed_to"},
					{Columns: []string{"ship_country", "ship_zip"}, Name: "ships_to"},
				},
			},
			{Name: "public.customers", Columns: cols, Edges: []Edge{}},
			{Name: "audit.events", Key: []string{"event_id", "event_time"}},
		},
	}
}

// checkSync compares two sync sections field by field, and each table
// field by field, so that a difference names the field.
func checkSync(t *testing.T, got, want Sync) {
	t.Helper()
	same := func(name string, g, w any) {
		t.Helper()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %#v, want %#v", name, g, w)
		}
	}
	same("Slot", got.Slot, want.Slot)
	same("Publication", got.Publication, want.Publication)
	same("Include", got.Include, want.Include)
	same("Exclude", got.Exclude, want.Exclude)
	same("Schema", got.Schema, want.Schema)
	same("Nulls", got.Nulls, want.Nulls)
	same("BatchSize", got.BatchSize, want.BatchSize)
	same("SnapshotWorkers", got.SnapshotWorkers, want.SnapshotWorkers)
	same("SnapshotChunkRows", got.SnapshotChunkRows, want.SnapshotChunkRows)
	same("Heartbeat", got.Heartbeat, want.Heartbeat)
	same("StatusInterval", got.StatusInterval, want.StatusInterval)
	same("DeadLetter", got.DeadLetter, want.DeadLetter)
	if len(got.Tables) != len(want.Tables) {
		t.Errorf("%d tables, want %d: %+v", len(got.Tables), len(want.Tables), got.Tables)
		return
	}
	for i, w := range want.Tables {
		g := got.Tables[i]
		p := fmt.Sprintf("Tables[%d].", i)
		same(p+"Name", g.Name, w.Name)
		same(p+"Target", g.Target, w.Target)
		same(p+"Namespace", g.Namespace, w.Namespace)
		same(p+"Database", g.Database, w.Database)
		same(p+"Key", g.Key, w.Key)
		same(p+"Columns", g.Columns, w.Columns)
		same(p+"ExcludeColumns", g.ExcludeColumns, w.ExcludeColumns)
		same(p+"Transforms", g.Transforms, w.Transforms)
		same(p+"Edges", g.Edges, w.Edges)
	}
}

// assertSame compares configs, ignoring where the values came from.
func assertSame(t *testing.T, got, want Config) {
	t.Helper()
	got.sources, want.sources = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config:\n got: %+v\nwant: %+v", got, want)
	}
	if got.Postgres.Password != want.Postgres.Password || got.Surreal.Password != want.Surreal.Password ||
		got.HTTP.Token != want.HTTP.Token {
		t.Errorf("secrets differ: got %q %q %q, want %q %q %q",
			got.Postgres.Password.Reveal(), got.Surreal.Password.Reveal(), got.HTTP.Token.Reveal(),
			want.Postgres.Password.Reveal(), want.Surreal.Password.Reveal(), want.HTTP.Token.Reveal())
	}
}

const examplePath = "../../pgsurreal.example.yaml"

// TestExampleIsDefault keeps pgsurreal.example.yaml honest: it loads, it
// sets every key, and its values are the defaults.
func TestExampleIsDefault(t *testing.T) {
	t.Parallel()
	c, err := Load(examplePath, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, c, Default())
	src := c.Sources()
	for _, f := range fields() {
		if src[f.key] == "" {
			t.Errorf("%s is missing from %s", f.key, examplePath)
		}
	}
}

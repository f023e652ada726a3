package config

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    []string
		check  func(c Config) bool
		source string // expected Sources() entry for key
		key    string
	}{
		{"password", []string{"PGSURREAL_POSTGRES_PASSWORD=s3cret"},
			func(c Config) bool { return c.Postgres.Password.Reveal() == "s3cret" },
			"env PGSURREAL_POSTGRES_PASSWORD", "postgres.password"},
		{"url", []string{"PGSURREAL_SURREAL_URL=wss://sdb.example.com/rpc"},
			func(c Config) bool { return c.Surreal.URL == "wss://sdb.example.com/rpc" },
			"env PGSURREAL_SURREAL_URL", "surreal.url"},
		{"underscore in key", []string{"PGSURREAL_DEV_SURREAL_PORT=8123"},
			func(c Config) bool { return c.Dev.SurrealPort == 8123 },
			"env PGSURREAL_DEV_SURREAL_PORT", "dev.surreal_port"},
		{"log level", []string{"PGSURREAL_LOG_LEVEL=debug"},
			func(c Config) bool { return c.Log.Level == "debug" },
			"env PGSURREAL_LOG_LEVEL", "log.level"},
		{"duration", []string{"PGSURREAL_SURREAL_TIMEOUT=2m"},
			func(c Config) bool { return c.Surreal.Timeout.Duration == 2*time.Minute },
			"env PGSURREAL_SURREAL_TIMEOUT", "surreal.timeout"},
		{"empty clears optional", []string{"PGSURREAL_HTTP_TOKEN=x", "PGSURREAL_HTTP_TOKEN="},
			func(c Config) bool { return c.HTTP.Token == "" },
			"env PGSURREAL_HTTP_TOKEN", "http.token"},
		{"list", []string{"PGSURREAL_SYNC_INCLUDE=public.*,sales.orders"},
			func(c Config) bool { return slices.Equal(c.Sync.Include, []string{"public.*", "sales.orders"}) },
			"env PGSURREAL_SYNC_INCLUDE", "sync.include"},
		{"list items trimmed and normalised", []string{"PGSURREAL_SYNC_EXCLUDE= audit_* , sales.tmp "},
			func(c Config) bool { return slices.Equal(c.Sync.Exclude, []string{"public.audit_*", "sales.tmp"}) },
			"env PGSURREAL_SYNC_EXCLUDE", "sync.exclude"},
		{"empty list", []string{"PGSURREAL_SYNC_EXCLUDE="},
			func(c Config) bool { return c.Sync.Exclude != nil && len(c.Sync.Exclude) == 0 },
			"env PGSURREAL_SYNC_EXCLUDE", "sync.exclude"},
		{"one item", []string{"PGSURREAL_SYNC_INCLUDE=sales.*"},
			func(c Config) bool { return slices.Equal(c.Sync.Include, []string{"sales.*"}) },
			"env PGSURREAL_SYNC_INCLUDE", "sync.include"},
		{"sync scalar", []string{"PGSURREAL_SYNC_STATUS_INTERVAL=250ms"},
			func(c Config) bool { return c.Sync.StatusInterval.Duration == 250*time.Millisecond },
			"env PGSURREAL_SYNC_STATUS_INTERVAL", "sync.status_interval"},
		{"ignored and other variables", []string{
			"PGSURREAL_CONFIG=/etc/pgsurreal.yaml", "PGSURREAL_TEST_PG_URL=postgres://x",
			"PGSURREAL_TEST_SURREAL_URL=ws://x", "PGSURREAL_TEST_KEEP=1", "PATH=/bin", "pgsurreal_log_level=nonsense", "NOEQUALS"},
			func(c Config) bool { return c.Log == Default().Log },
			"", "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load("", tt.env, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("override not applied: %+v", c)
			}
			if got := c.Sources()[tt.key]; got != tt.source {
				t.Errorf("source of %s = %q, want %q", tt.key, got, tt.source)
			}
		})
	}
}

// TestEnvNames checks the names derived from the yaml tags.
func TestEnvNames(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"postgres.password":   "PGSURREAL_POSTGRES_PASSWORD",
		"postgres.max_conns":  "PGSURREAL_POSTGRES_MAX_CONNS",
		"surreal.url":         "PGSURREAL_SURREAL_URL",
		"dev.surreal_port":    "PGSURREAL_DEV_SURREAL_PORT",
		"dev.surreal_storage": "PGSURREAL_DEV_SURREAL_STORAGE",
		"log.level":           "PGSURREAL_LOG_LEVEL",
		"http.token":          "PGSURREAL_HTTP_TOKEN",
		"sync.include":        "PGSURREAL_SYNC_INCLUDE",
		"sync.batch_size":     "PGSURREAL_SYNC_BATCH_SIZE",
		"sync.tables":         "PGSURREAL_SYNC_TABLES",
		"reverse.retention":   "PGSURREAL_REVERSE_RETENTION",
	}
	got := map[string]string{}
	for _, f := range fields() {
		got[f.key] = f.env
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: env %q, want %q", k, got[k], v)
		}
	}
	if len(got) != 91 {
		t.Errorf("%d keys, want 91", len(got))
	}
}

func TestEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"bad integer", []string{"PGSURREAL_POSTGRES_PORT=x"},
			`PGSURREAL_POSTGRES_PORT: "x" is not an integer`},
		{"bad duration", []string{"PGSURREAL_POSTGRES_CONNECT_TIMEOUT=5"},
			`PGSURREAL_POSTGRES_CONNECT_TIMEOUT: "5" is not a duration, add a unit such as "5s"`},
		{"unknown with suggestion", []string{"PGSURREAL_POSTGRES_PASWORD=x"},
			`PGSURREAL_POSTGRES_PASWORD: unknown variable, no config key reads it (did you mean PGSURREAL_POSTGRES_PASSWORD?)`},
		{"unknown without suggestion", []string{"PGSURREAL_FROBNICATE=1"},
			`PGSURREAL_FROBNICATE: unknown variable, no config key reads it; the names are PGSURREAL_<SECTION>_<KEY>, e.g. PGSURREAL_POSTGRES_HOST`},
		{"several joined", []string{"PGSURREAL_POSTGRES_PORT=x", "PGSURREAL_B=1", "PGSURREAL_A=1"},
			`PGSURREAL_POSTGRES_PORT: "x" is not an integer` + "\n" +
				`PGSURREAL_A: unknown variable, no config key reads it; the names are PGSURREAL_<SECTION>_<KEY>, e.g. PGSURREAL_POSTGRES_HOST` + "\n" +
				`PGSURREAL_B: unknown variable, no config key reads it; the names are PGSURREAL_<SECTION>_<KEY>, e.g. PGSURREAL_POSTGRES_HOST`},
		{"read only by a file that is not loaded", []string{"PGSURREAL_PG_PASSWORD=x"},
			`PGSURREAL_PG_PASSWORD: unknown variable, no config key reads it; the names are PGSURREAL_<SECTION>_<KEY>, e.g. PGSURREAL_POSTGRES_HOST`},
		{"validated", []string{"PGSURREAL_POSTGRES_SSLMODE=sometimes"},
			`PGSURREAL_POSTGRES_SSLMODE: "sometimes" is not one of disable, allow, prefer, require, verify-ca, verify-full`},
		{"required", []string{"PGSURREAL_SURREAL_NAMESPACE="},
			`PGSURREAL_SURREAL_NAMESPACE: required, set it in the config file or PGSURREAL_SURREAL_NAMESPACE`},
		{"tables refused", []string{"PGSURREAL_SYNC_TABLES=public.orders"},
			`PGSURREAL_SYNC_TABLES: sync.tables cannot be set from the environment; put it in the config file`},
		{"tables refused even empty", []string{"PGSURREAL_SYNC_TABLES="},
			`PGSURREAL_SYNC_TABLES: sync.tables cannot be set from the environment; put it in the config file`},
		{"empty list item", []string{"PGSURREAL_SYNC_INCLUDE=public.*,,sales.*"},
			`PGSURREAL_SYNC_INCLUDE: "public.*,,sales.*" has an empty item 2, separate the items with single commas`},
		{"bad list item", []string{"PGSURREAL_SYNC_INCLUDE=public.*,a.b.c"},
			`PGSURREAL_SYNC_INCLUDE: "a.b.c" is not a table pattern, write schema.table or table (for public.table), where * matches any characters, e.g. public.* or sales.orders`},
		{"empty include", []string{"PGSURREAL_SYNC_INCLUDE="},
			`PGSURREAL_SYNC_INCLUDE: empty, so nothing would be replicated; list patterns such as public.*`},
		{"slot", []string{"PGSURREAL_SYNC_SLOT=my-slot"},
			`PGSURREAL_SYNC_SLOT: "my-slot" is not a replication slot name: PostgreSQL allows only lower-case letters, digits and _, 1 to 63 of them`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("", tt.env, nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got: %v\nwant: %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Source == "" {
				t.Errorf("no *Error with a Source in %#v", err)
			}
		})
	}
}

// TestEnvReadByFile: a PGSURREAL_ variable that the file reads with ${...}
// is in use, not unknown.
func TestEnvReadByFile(t *testing.T) {
	t.Parallel()
	c, err := Load("../../pgsurreal.example.yaml", []string{"PGSURREAL_PG_PASSWORD=from-env"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Postgres.Password.Reveal(); got != "from-env" {
		t.Errorf("password = %q, want from-env", got)
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	c, err := Load("", nil, []string{
		"postgres.port=5433", "postgres.password=a=b", "surreal.timeout=1s", "surreal.timeout=2s", " log.format =json",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Port != 5433 || c.Postgres.Password.Reveal() != "a=b" ||
		c.Surreal.Timeout.Duration != 2*time.Second || c.Log.Format != "json" {
		t.Errorf("sets not applied: %+v", c)
	}
	if got := c.Sources()["postgres.port"]; got != "--set" {
		t.Errorf("source = %q, want --set", got)
	}
}

// TestEnvListReplacesFileList: a list from the environment replaces the
// file's whole list, and the file's lines for its items are forgotten.
func TestEnvListReplacesFileList(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/full.good.yaml", append([]string{"PGSURREAL_SYNC_INCLUDE=inventory.*"}, testEnv...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Sync.Include, []string{"inventory.*"}) {
		t.Errorf("include = %q", c.Sync.Include)
	}
	src := c.Sources()
	if got := src["sync.include"]; got != "env PGSURREAL_SYNC_INCLUDE" {
		t.Errorf("source of sync.include = %q", got)
	}
	for _, key := range []string{"sync.include[0]", "sync.include[1]", "sync.include[2]"} {
		if got, ok := src[key]; ok {
			t.Errorf("stale source for %s: %q", key, got)
		}
	}
	if got := src["sync.exclude[1]"]; got != "testdata/full.good.yaml:41" {
		t.Errorf("source of sync.exclude[1] = %q, want it kept", got)
	}

	// An item that the environment made bad is blamed on the variable, not
	// on the file line of the item it replaced.
	_, err = Load("testdata/full.good.yaml", append([]string{"PGSURREAL_SYNC_INCLUDE=x.*,a.b.c"}, testEnv...), nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Source != "env PGSURREAL_SYNC_INCLUDE" || ce.Key != "sync.include[1]" {
		t.Errorf("got %#v, want an *Error for sync.include[1] from the variable", err)
	}
}

func TestSetList(t *testing.T) {
	t.Parallel()
	c, err := Load("", nil, []string{"sync.include=a.b,c.d", "sync.exclude=orders", "sync.batch_size=10"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Sync.Include, []string{"a.b", "c.d"}) || !slices.Equal(c.Sync.Exclude, []string{"public.orders"}) ||
		c.Sync.BatchSize != 10 {
		t.Errorf("sets not applied: %+v", c.Sync)
	}
	if got := c.Sources()["sync.include"]; got != "--set" {
		t.Errorf("source = %q, want --set", got)
	}
	// A later --set replaces the whole list; the empty value empties it.
	c, err = Load("", []string{"PGSURREAL_SYNC_EXCLUDE=a.b"}, []string{"sync.exclude=x.y", "sync.exclude="})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.Exclude == nil || len(c.Sync.Exclude) != 0 {
		t.Errorf("exclude = %#v, want empty", c.Sync.Exclude)
	}
}

func TestSetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set, want string
		key       string
	}{
		{"postgres.port=x", `--set postgres.port: "x" is not an integer`, "postgres.port"},
		{"postgres.port=0", `--set postgres.port: 0 is out of range, use 1..65535`, "postgres.port"},
		{"postgres.prot=1", `--set: unknown key "postgres.prot" (did you mean "postgres.port"?)`, ""},
		{"postgres=1", `--set: unknown key "postgres", keys are section.key such as postgres.port`, ""},
		{"postgres.port", `--set: "postgres.port" is not key=value, e.g. postgres.port=5433`, ""},
		{"=1", `--set: "=1" is not key=value, e.g. postgres.port=5433`, ""},
		{"sync.tables=public.orders", `--set sync.tables: sync.tables cannot be set with --set; put it in the config file`, "sync.tables"},
		{"sync.include=a.b,", `--set sync.include: "a.b," has an empty item 2, separate the items with single commas`, "sync.include"},
		{"sync.include=a.b.c", `--set sync.include[0]: "a.b.c" is not a table pattern, write schema.table or table (for public.table), where * matches any characters, e.g. public.* or sales.orders`, "sync.include[0]"},
		{"sync.batch_size=0", `--set sync.batch_size: 0 is out of range, use 1..100000`, "sync.batch_size"},
		{"sync.tables[0].name=x", `--set: unknown key "sync.tables[0].name", keys are section.key such as postgres.port`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			t.Parallel()
			_, err := Load("", nil, []string{tt.set})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got: %v\nwant: %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Source != "--set" || ce.Key != tt.key {
				t.Errorf("got %#v, want an *Error with Source --set and Key %q", err, tt.key)
			}
		})
	}
}

// TestPrecedence: default < file < env < --set, key by key.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/full.good.yaml",
		append([]string{"PGSURREAL_POSTGRES_PORT=6000", "PGSURREAL_POSTGRES_USER=env-user"}, testEnv...),
		[]string{"postgres.port=7000"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, source string
		got, want   any
	}{
		{"postgres.port", "--set", c.Postgres.Port, 7000},
		{"postgres.user", "env PGSURREAL_POSTGRES_USER", c.Postgres.User, "env-user"},
		{"postgres.host", "testdata/full.good.yaml:6", c.Postgres.Host, "db.example.com"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.key, tt.got, tt.want)
		}
		if src := c.Sources()[tt.key]; src != tt.source {
			t.Errorf("source of %s = %q, want %q", tt.key, src, tt.source)
		}
	}

	c, err = Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Port != Default().Postgres.Port {
		t.Errorf("default port = %d", c.Postgres.Port)
	}
}

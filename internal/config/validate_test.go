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
		{"storage", func(c *Config) { c.Dev.SurrealStorage = "rocksdb" }, `dev.surreal_storage: "rocksdb" is not one of surrealkv, mem`},
		{"dev port", func(c *Config) { c.Dev.SurrealPort = -1 }, "dev.surreal_port: -1 is out of range, use 1..65535"},
		{"listen port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:99999" },
			`http.listen: port "99999" in "127.0.0.1:99999" is not a number in 0..65535`},
		{"listen any port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:0" }, ""},
		{"optional files and token", func(c *Config) { c.Surreal.CAFile = "testdata/ca.pem"; c.HTTP.Token = "" }, ""},
		{"node", func(c *Config) { c.Dev.NodeBin = "" }, "dev.node_bin: required, set it in the config file or PGSURREAL_DEV_NODE_BIN"},
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
	for _, k := range []string{"log.level", "postgres.host", "postgres.port", "surreal.url", "surreal.timeout", "dev.dir", "http.listen"} {
		if !keys[k] {
			t.Errorf("no error for %s in:\n%v", k, err)
		}
	}
	if strings.Contains(err.Error(), "http.token") || strings.Contains(err.Error(), "postgres.password") {
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

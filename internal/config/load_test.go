package config

import (
	"errors"
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
				},
				Dev: Dev{
					Dir: "/var/tmp/pgsurreal-dev", PGBinDir: "/usr/lib/postgresql/15/bin",
					SurrealPort: 8001, SurrealStorage: "mem", NodeBin: "/usr/bin/node",
				},
				HTTP: HTTP{Listen: ":9090", Token: "tok-${literal}-plain"},
			}
			assertSame(t, c, want)
			if got := c.Sources()["postgres.port"]; got != "testdata/full.good.yaml:7" {
				t.Errorf("source of postgres.port = %q", got)
			}
			if got := c.Sources()["http.token"]; got != "testdata/full.good.yaml:32" {
				t.Errorf("source of http.token = %q", got)
			}
			if n := len(c.Sources()); n != len(fields()) {
				t.Errorf("%d sources, want one per key (%d)", n, len(fields()))
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
	if len(files) != 4 {
		t.Errorf("%d good files, TestLoadGood checks 4: add the new ones to its table", len(files))
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

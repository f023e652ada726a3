package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	pgSecret      = "pg-hunter2"
	surrealSecret = "sdb-hunter2"
	tokenSecret   = "tok-hunter2"
)

// secretConfig is a Config whose three secrets must never be printed.
func secretConfig() Config {
	c := Default()
	c.Postgres.Password = pgSecret
	c.Surreal.Password = surrealSecret
	c.HTTP.Token = tokenSecret
	return c
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	c := secretConfig()
	render := map[string]func() string{
		"%v pointer": func() string { return fmt.Sprintf("%+v", &c) },
		"Sprint secret": func() string {
			return fmt.Sprint(c.Postgres.Password) + fmt.Sprintln(c.HTTP.Token)
		},
		"json": func() string {
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		},
		"yaml": func() string {
			b, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		},
		"slog text": func() string { return logWith(c, false) },
		"slog json": func() string { return logWith(c, true) },
		"Redacted":  func() string { return c.Postgres.Redacted() + " " + c.Surreal.Redacted() },
	}
	// Every verb, including those vet would flag for a struct.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		render[verb] = func() string { return fmt.Sprintf(verb, c) }
	}
	for name, f := range render {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := f()
			for _, s := range []string{pgSecret, surrealSecret, tokenSecret} {
				if strings.Contains(out, s) {
					t.Errorf("secret %q printed:\n%s", s, out)
				}
			}
			if !strings.Contains(out, redacted) {
				t.Errorf("no %s in output:\n%s", redacted, out)
			}
		})
	}
}

// logWith logs c whole and its secrets one by one through slog.
func logWith(c Config, asJSON bool) string {
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if asJSON {
		h = slog.NewJSONHandler(&buf, nil)
	}
	log := slog.New(h)
	log.Info("config", "config", c, "postgres", c.Postgres, "password", c.Postgres.Password)
	log.Info("pointer", slog.Any("config", &c), slog.Any("token", c.HTTP.Token))
	log.Info("group", slog.Group("surreal", "password", c.Surreal.Password))
	return buf.String()
}

func TestSecretFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Secret
		verb string
		want string
	}{
		{"x", "%v", "[redacted]"},
		{"x", "%s", "[redacted]"},
		{"x", "%q", `"[redacted]"`},
		{"x", "%#v", `"[redacted]"`},
		{"x", "%x", "[redacted]"},
		{"x", "%10s", "[redacted]"},
		{"", "%v", ""},
		{"", "%q", `""`},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf(tt.verb, tt.s); got != tt.want {
			t.Errorf("Sprintf(%s, %q) = %q, want %q", tt.verb, tt.s.Reveal(), got, tt.want)
		}
	}
	if b, _ := json.Marshal(Secret("")); string(b) != `""` {
		t.Errorf("empty secret JSON = %s", b)
	}
	if got := Secret("x").Reveal(); got != "x" {
		t.Errorf("Reveal = %q", got)
	}
}

func TestDurationEncoding(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Duration{1500 * time.Millisecond})
	if err != nil || string(b) != `"1.5s"` {
		t.Errorf("json = %s, %v", b, err)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"250ms"`), &d); err != nil || d.Duration != 250*time.Millisecond {
		t.Errorf("json unmarshal = %v, %v", d, err)
	}
	var s struct {
		D Duration `yaml:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: 1m\n"), &s); err != nil || s.D.Duration != time.Minute {
		t.Errorf("yaml unmarshal = %v, %v", s.D, err)
	}
	if err := yaml.Unmarshal([]byte("d: 60\n"), &s); err == nil {
		t.Error("yaml unmarshal of a bare number succeeded")
	}
}

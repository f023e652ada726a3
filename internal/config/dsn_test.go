package config

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestConnString(t *testing.T) {
	t.Parallel()
	p := Default().Postgres
	want := `host='127.0.0.1' port=54329 user='pgsurreal' password='pgsurreal' dbname='pgsurreal' sslmode='prefer' connect_timeout=5`
	if got := p.ConnString(); got != want {
		t.Errorf("ConnString:\n got: %s\nwant: %s", got, want)
	}
	want = `host='127.0.0.1' port=54329 user='pgsurreal' password=[redacted] dbname='pgsurreal' sslmode='prefer' connect_timeout=5`
	if got := p.Redacted(); got != want {
		t.Errorf("Redacted:\n got: %s\nwant: %s", got, want)
	}

	p.Password = ""
	p.SSLRootCert = "/etc/ca.pem"
	p.ConnectTimeout = Duration{1500 * time.Millisecond}
	want = `host='127.0.0.1' port=54329 user='pgsurreal' dbname='pgsurreal' sslmode='prefer' sslrootcert='/etc/ca.pem' connect_timeout=2`
	if got := p.ConnString(); got != want {
		t.Errorf("ConnString without password:\n got: %s\nwant: %s", got, want)
	}
}

// TestConnStringParses hands hostile values to pgx's libpq-compatible
// parser and checks they come back unchanged.
func TestConnStringParses(t *testing.T) {
	t.Parallel()
	p := Default().Postgres
	p.User = `o'brien \ co`
	p.Password = `p a'ss\w=rd`
	p.Database = "my db"
	p.SSLMode = "disable"
	cfg, err := pgconn.ParseConfig(p.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != p.User || cfg.Password != p.Password.Reveal() || cfg.Database != p.Database ||
		cfg.Host != p.Host || cfg.Port != uint16(p.Port) || cfg.ConnectTimeout != 5*time.Second {
		t.Errorf("parsed %+v", cfg)
	}
	if strings.Contains(p.Redacted(), "a'ss") {
		t.Error("Redacted shows the password")
	}
}

func TestSurrealRedacted(t *testing.T) {
	t.Parallel()
	s := Default().Surreal
	want := "url=ws://127.0.0.1:8000/rpc namespace=pgsurreal database=pgsurreal username=root password=[redacted] pool_size=4 timeout=30s"
	if got := s.Redacted(); got != want {
		t.Errorf("Redacted:\n got: %s\nwant: %s", got, want)
	}
	s.URL = "wss://root:topsecret@sdb.example.com/rpc"
	s.CAFile = "ca.pem"
	s.Password = ""
	want = "url=wss://root:xxxxx@sdb.example.com/rpc namespace=pgsurreal database=pgsurreal username=root password= ca_file=ca.pem pool_size=4 timeout=30s"
	if got := s.Redacted(); got != want {
		t.Errorf("Redacted:\n got: %s\nwant: %s", got, want)
	}
}

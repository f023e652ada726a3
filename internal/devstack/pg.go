package devstack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/postgres"
)

// MinPGVersion is the oldest PostgreSQL whose logical decoding pgsurreal
// relies on (Origin messages in pgoutput, streaming of large transactions).
const MinPGVersion = 15

// baseSettings are the cluster settings pgsurreal needs.
var baseSettings = map[string]string{
	"wal_level":                 "logical",
	"max_replication_slots":     "64",
	"max_wal_senders":           "64",
	"max_prepared_transactions": "64",
	"track_commit_timestamp":    "on",
	"max_connections":           "200",
	"logging_collector":         "off",
}

type pgCluster struct {
	o       Options
	data    string
	run     string
	logFile string
}

func newPG(o Options) *pgCluster {
	return &pgCluster{
		o:       o,
		data:    filepath.Join(o.Dir, "pg"),
		run:     filepath.Join(o.Dir, "run"),
		logFile: filepath.Join(o.Dir, "pg.log"),
	}
}

func (p *pgCluster) url() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", p.o.PG.User, p.o.PG.Host, p.o.PG.Port, p.o.PG.Database)
}

// binDir finds PostgreSQL's server programs.
func binDir(configured string) (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if configured != "" {
		if !has(configured) {
			return "", fmt.Errorf("dev.pg_bin_dir %s does not contain initdb, pg_ctl and postgres: point it at PostgreSQL's bin directory", configured)
		}
		return configured, nil
	}
	candidates, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest first: sort by the numeric version directory.
	sort.Slice(candidates, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(candidates[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(candidates[j])))
		return vi > vj
	})
	candidates = append(candidates, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append([]string{filepath.Dir(p)}, candidates...)
	}
	for _, c := range candidates {
		if has(c) {
			return c, nil
		}
	}
	return "", errors.New("PostgreSQL server programs (initdb, pg_ctl, postgres) not found: install PostgreSQL 15 or newer (Debian: apt-get install postgresql) or set dev.pg_bin_dir")
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

func checkVersion(bin string) error {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return fmt.Errorf("running %s/postgres --version: %w", bin, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return fmt.Errorf("cannot read the version from %q", strings.TrimSpace(string(out)))
	}
	if v, _ := strconv.Atoi(m[1]); v < MinPGVersion {
		return fmt.Errorf("%s is PostgreSQL %d; pgsurreal needs %d or newer: install it or set dev.pg_bin_dir", bin, v, MinPGVersion)
	}
	return nil
}

// up initialises the cluster if needed and starts it. It reports whether
// it started the server (so a failing caller can stop it again).
func (p *pgCluster) up(ctx context.Context) (bool, error) {
	bin, err := binDir(p.o.PGBinDir)
	if err != nil {
		return false, err
	}
	if err := checkVersion(bin); err != nil {
		return false, err
	}
	owner, err := currentOSUser()
	if err != nil {
		return false, err
	}
	if p.running(ctx, owner, bin) {
		p.o.Log.Info("PostgreSQL dev cluster already running", "url", p.url())
		return false, p.ensureDatabase(ctx)
	}
	addr := fmt.Sprintf("%s:%d", p.o.PG.Host, p.o.PG.Port)
	if portBusy(addr) {
		return false, fmt.Errorf("cannot start the PostgreSQL dev cluster: %s is already in use by another process; stop it or choose another port with postgres.port (PGSURREAL_POSTGRES_PORT)", addr)
	}
	if err := p.initdb(ctx, owner, bin); err != nil {
		return false, err
	}
	if err := p.writeSettings(owner); err != nil {
		return false, err
	}
	if err := p.prepareLog(owner); err != nil {
		return false, err
	}
	p.o.Log.Info("starting PostgreSQL dev cluster", "data", p.data, "port", p.o.PG.Port)
	if _, err := run(owner.command(ctx, filepath.Join(bin, "pg_ctl"), "-D", p.data, "-l", p.logFile, "-w", "-t", "60", "start")); err != nil {
		return false, fmt.Errorf("starting PostgreSQL failed; its log %s ends with:\n%s\n%w", p.logFile, tail(p.logFile, 15), err)
	}
	if err := p.ensureDatabase(ctx); err != nil {
		_ = p.down(context.WithoutCancel(ctx))
		return false, err
	}
	return true, nil
}

// prepareLog creates the server log so the cluster's owner can append to it.
func (p *pgCluster) prepareLog(owner osUser) error {
	f, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	f.Close()
	return owner.chown(p.logFile)
}

func (p *pgCluster) running(ctx context.Context, owner osUser, bin string) bool {
	if _, err := os.Stat(filepath.Join(p.data, "PG_VERSION")); err != nil {
		return false
	}
	return owner.command(ctx, filepath.Join(bin, "pg_ctl"), "-D", p.data, "status").Run() == nil
}

func (p *pgCluster) initdb(ctx context.Context, owner osUser, bin string) error {
	if _, err := os.Stat(filepath.Join(p.data, "PG_VERSION")); err == nil {
		return nil
	}
	for _, d := range []string{p.data, p.run} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := owner.chown(d); err != nil {
			return fmt.Errorf("giving %s to the postgres OS user: %w", d, err)
		}
	}
	if owner.isRoot {
		if err := owner.command(ctx, "test", "-w", p.data).Run(); err != nil {
			return fmt.Errorf("the postgres OS user cannot reach %s: choose a dev.dir whose parent directories it can enter (for example under /tmp), or fix their permissions", p.data)
		}
	}
	pw := filepath.Join(p.run, "pwfile")
	if err := os.WriteFile(pw, []byte(p.o.PG.Password.Reveal()+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pw)
	if err := owner.chown(pw); err != nil {
		return err
	}
	p.o.Log.Info("initialising PostgreSQL dev cluster", "data", p.data)
	_, err := run(owner.command(ctx, filepath.Join(bin, "initdb"), "-D", p.data, "-U", p.o.PG.User,
		"--pwfile="+pw, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"))
	if err != nil {
		_ = os.RemoveAll(p.data) // never leave a half-initialised cluster
		return fmt.Errorf("initdb failed: %w", err)
	}
	return nil
}

// writeSettings (re)writes pgsurreal.conf, included from postgresql.conf,
// so setting changes take effect on the next start.
func (p *pgCluster) writeSettings(owner osUser) error {
	settings := maps.Clone(baseSettings)
	settings["listen_addresses"] = p.o.PG.Host
	settings["port"] = strconv.Itoa(p.o.PG.Port)
	settings["unix_socket_directories"] = p.run
	maps.Copy(settings, p.o.PGSettings)
	var b strings.Builder
	b.WriteString("# written by pgsurreal dev up; edits are overwritten\n")
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	conf := filepath.Join(p.data, "pgsurreal.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := owner.chown(conf); err != nil {
		return err
	}
	main := filepath.Join(p.data, "postgresql.conf")
	cur, err := os.ReadFile(main)
	if err != nil {
		return err
	}
	if !strings.Contains(string(cur), "include_if_exists = 'pgsurreal.conf'") {
		f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteString("\ninclude_if_exists = 'pgsurreal.conf'\n"); err != nil {
			return err
		}
	}
	return nil
}

// ensureDatabase creates the configured database if it is missing.
func (p *pgCluster) ensureDatabase(ctx context.Context) error {
	admin := p.o.PG
	admin.Database = "postgres"
	admin.SSLMode = "disable"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := postgres.ConnectOne(ctx, admin, nil)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", p.o.PG.Database).Scan(&exists); err != nil {
		return fmt.Errorf("checking database %q: %w", p.o.PG.Database, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+postgres.Ident(p.o.PG.Database)); err != nil {
			return fmt.Errorf("creating database %q: %w", p.o.PG.Database, err)
		}
	}
	return nil
}

func (p *pgCluster) down(ctx context.Context) error {
	bin, err := binDir(p.o.PGBinDir)
	if err != nil {
		return err
	}
	owner, err := currentOSUser()
	if err != nil {
		return err
	}
	if !p.running(ctx, owner, bin) {
		return nil
	}
	p.o.Log.Info("stopping PostgreSQL dev cluster", "data", p.data)
	if _, err := run(owner.command(ctx, filepath.Join(bin, "pg_ctl"), "-D", p.data, "-m", "fast", "-w", "-t", "60", "stop")); err != nil {
		return fmt.Errorf("stopping PostgreSQL: %w", err)
	}
	return nil
}

func (p *pgCluster) status(ctx context.Context) ServerStatus {
	st := ServerStatus{URL: p.url(), DataDir: p.data, Log: p.logFile}
	bin, err := binDir(p.o.PGBinDir)
	if err != nil {
		return st
	}
	owner, err := currentOSUser()
	if err != nil {
		return st
	}
	st.Running = p.running(ctx, owner, bin)
	if st.Running {
		if b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid")); err == nil {
			st.PID, _ = strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
		}
	}
	return st
}

// AdminConfig returns a connection config for the cluster's own
// superuser over TCP, for tests and tools that need to create databases.
func AdminConfig(o Options) config.Postgres {
	c := o.PG
	c.Database = "postgres"
	c.SSLMode = "disable"
	return c
}

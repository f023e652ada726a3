// Package devstack runs the local PostgreSQL + SurrealDB pair that the
// demo, the tests and the benchmarks use: a private PostgreSQL cluster
// (initdb'd under Dir, logical replication and prepared transactions on)
// and the SurrealDB dev server (tools/surreal-dev-server, the real
// SurrealDB 3 engine from npm, with persistent surrealkv storage).
//
// Up is idempotent and safe to call from several processes at once (a file
// lock serialises them); data survives Down/Up; Reset wipes it. Nothing is
// left half-started: a failed Up stops what it started.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Options say where the stack lives and how it is reached.
type Options struct {
	// Dir holds everything: pg/ (data), run/ (socket), surreal/ (data),
	// logs and pid files.
	Dir string
	// PGBinDir holds initdb and pg_ctl; empty means search the usual places.
	PGBinDir string
	// PG is how clients reach the cluster: its port, role, password and
	// database are created to match.
	PG config.Postgres
	// PGSettings override server settings (tests start clusters without
	// logical replication this way).
	PGSettings map[string]string
	// SurrealPort is the dev server's port on 127.0.0.1.
	SurrealPort int
	// SurrealStorage is "surrealkv" or "rocksdb" (persistent) or "mem".
	SurrealStorage string
	// SurrealUser and SurrealPass are the root credentials.
	SurrealUser string
	SurrealPass string
	// NodeBin is the Node.js executable.
	NodeBin string
	// NoSurreal skips the SurrealDB server (a PostgreSQL-only cluster).
	NoSurreal bool
	// NoPostgres skips the PostgreSQL cluster (a SurrealDB-only stack,
	// such as a second SurrealDB server for partitioned tables).
	NoPostgres bool
	Log        *slog.Logger
}

// FromConfig derives the options from the configuration.
func FromConfig(c config.Config, log *slog.Logger) Options {
	return Options{
		Dir:            c.Dev.Dir,
		PGBinDir:       c.Dev.PGBinDir,
		PG:             c.Postgres,
		SurrealPort:    c.Dev.SurrealPort,
		SurrealStorage: c.Dev.SurrealStorage,
		SurrealUser:    c.Surreal.Username,
		SurrealPass:    c.Surreal.Password.Reveal(),
		NodeBin:        c.Dev.NodeBin,
		Log:            log,
	}
}

// Status describes both servers.
type Status struct {
	Postgres ServerStatus `json:"postgres"`
	Surreal  ServerStatus `json:"surreal"`
}

// ServerStatus describes one server.
type ServerStatus struct {
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
	URL     string `json:"url"`
	DataDir string `json:"data_dir"`
	Log     string `json:"log"`
}

func (o *Options) normalise() error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("dev.dir %q: %w", o.Dir, err)
	}
	o.Dir = abs
	if o.NodeBin == "" {
		o.NodeBin = "node"
	}
	if o.SurrealStorage == "" {
		o.SurrealStorage = "surrealkv"
	}
	return nil
}

// Up starts whatever is not running and waits until both servers answer.
func Up(ctx context.Context, o Options) (Status, error) {
	if err := o.normalise(); err != nil {
		return Status{}, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return Status{}, fmt.Errorf("creating dev.dir: %w", err)
	}
	unlock, err := lock(o.Dir)
	if err != nil {
		return Status{}, err
	}
	defer unlock()

	pg := newPG(o)
	startedPG := false
	if !o.NoPostgres {
		if startedPG, err = pg.up(ctx); err != nil {
			return Status{}, err
		}
	}
	if !o.NoSurreal {
		if err := newSurreal(o).up(ctx); err != nil {
			if startedPG {
				_ = pg.down(context.WithoutCancel(ctx))
			}
			return Status{}, err
		}
	}
	return stat(ctx, o), nil
}

// Down stops both servers, leaving their data in place.
func Down(ctx context.Context, o Options) error {
	if err := o.normalise(); err != nil {
		return err
	}
	if _, err := os.Stat(o.Dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lock(o.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	if err := newSurreal(o).down(ctx); err != nil {
		errs = append(errs, err)
	}
	if !o.NoPostgres {
		if err := newPG(o).down(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reset stops both servers and deletes all their data.
func Reset(ctx context.Context, o Options) error {
	if err := Down(ctx, o); err != nil {
		return err
	}
	if err := o.normalise(); err != nil {
		return err
	}
	o.Log.Info("deleting dev stack data", "dir", o.Dir)
	return os.RemoveAll(o.Dir)
}

// Stat reports whether each server is running.
func Stat(ctx context.Context, o Options) (Status, error) {
	if err := o.normalise(); err != nil {
		return Status{}, err
	}
	return stat(ctx, o), nil
}

func stat(ctx context.Context, o Options) Status {
	return Status{Postgres: newPG(o).status(ctx), Surreal: newSurreal(o).status(ctx)}
}

// lock takes an exclusive lock on Dir/.lock so concurrent Up/Down calls
// (parallel test binaries, two terminals) do not race.
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Package cli is pgsurreal's command line: one file per subcommand, each a
// thin layer that loads the configuration, builds what it needs and
// renders the result. Exit codes: 0 success, 1 runtime failure, 2 usage or
// configuration error.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pgsurreal/pgsurreal/internal/buildinfo"
	"github.com/pgsurreal/pgsurreal/internal/config"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	// ExitDifferences: verify found differences (and did not repair
	// them all).
	ExitDifferences = 3
)

// app carries what every subcommand shares: output streams, the global
// flags and, once loaded, the configuration and logger.
type app struct {
	stdout, stderr io.Writer
	configPath     string
	sets           []string
	logLevel       string
	logFormat      string

	cfg config.Config
	log *slog.Logger
}

// usageError marks a mistake in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "pgsurreal: %s\n", indentJoined(err))
	return exitCode(err)
}

// indentJoined prints errors.Join'ed problems one per line.
func indentJoined(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "\n  ")
}

func exitCode(err error) int {
	var cfgErr *config.Error
	var use usageError
	if errors.As(err, &cfgErr) || errors.As(err, &use) {
		return ExitUsage
	}
	var diff differencesError
	if errors.As(err, &diff) {
		return ExitDifferences
	}
	return ExitFailure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pgsurreal",
		Short: "Make PostgreSQL and SurrealDB work as one hybrid database",
		Long: `pgsurreal replicates PostgreSQL into SurrealDB and back, answers SQL
queries across both, and commits transactions that span both.

Configuration comes from defaults, then the YAML file (--config or
PGSURREAL_CONFIG), then PGSURREAL_<SECTION>_<KEY> variables, then --set flags.
See pgsurreal.example.yaml for every key.`,
		Version:       buildinfo.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVarP(&a.configPath, "config", "c", "", "YAML config file (default $PGSURREAL_CONFIG, or pgsurreal.yaml if it exists)")
	pf.StringArrayVar(&a.sets, "set", nil, "override one config key, e.g. --set postgres.port=5433 (repeatable)")
	pf.StringVar(&a.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
	pf.StringVar(&a.logFormat, "log-format", "", "text or json (overrides log.format)")

	root.AddCommand(
		a.versionCommand(),
		a.configCommand(),
		a.devCommand(),
		a.doctorCommand(),
		a.syncCommand(),
		a.serveCommand(),
		a.reverseCommand(),
		a.queryCommand(),
		a.txCommand(),
		a.snapshotCommand(),
		a.verifyCommand(),
		a.backupCommand(),
		a.restoreCommand(),
		a.demoCommand(),
	)
	// Unknown subcommands and bad arguments are usage errors.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q: see `pgsurreal --help`", args[0], cmd.CommandPath())
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return root
}

// load reads the configuration and sets up logging. Subcommands call it
// first; it is not a PersistentPreRun so --help works with a broken file.
func (a *app) load() error {
	path := a.configPath
	if path == "" {
		path = os.Getenv(config.ConfigEnv)
	}
	if path == "" {
		if _, err := os.Stat("pgsurreal.yaml"); err == nil {
			path = "pgsurreal.yaml"
		}
	}
	sets := a.sets
	if a.logLevel != "" {
		sets = append(sets, "log.level="+a.logLevel)
	}
	if a.logFormat != "" {
		sets = append(sets, "log.format="+a.logFormat)
	}
	cfg, err := config.Load(path, os.Environ(), sets)
	if err != nil {
		return err
	}
	a.cfg = cfg
	a.log = newLogger(a.stderr, cfg.Log)
	return nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d: see `%s --help`", cmd.CommandPath(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}

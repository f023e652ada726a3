package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// findTool finds a PostgreSQL client program: in dev.pg_bin_dir when it is
// set, else on PATH, else in the newest /usr/lib/postgresql/*/bin.
func findTool(binDir, name string) (string, error) {
	if binDir != "" {
		p := filepath.Join(binDir, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("dev.pg_bin_dir %s has no %s: point it at the bin directory of a PostgreSQL installation as new as the server", binDir, name)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL's client programs (Debian: apt-get install postgresql-client) or set dev.pg_bin_dir", name)
}

var toolVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// toolMajor returns the major version a PostgreSQL program reports.
func toolMajor(ctx context.Context, path string) (int, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("running %s --version: %w", path, err)
	}
	m := toolVersionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("cannot read the version of %s from %q", path, strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[1]))
}

// toolCommand prepares a PostgreSQL client program to reach cfg's
// database. The connection string in its arguments carries no password:
// the password reaches the child only through its PGPASSWORD variable.
func toolCommand(ctx context.Context, path string, cfg config.Postgres, args ...string) (*exec.Cmd, *tailBuffer) {
	noPass := cfg
	noPass.Password = ""
	cmd := exec.CommandContext(ctx, path, append(args, "--dbname="+noPass.ConnString())...)
	cmd.Env = append(os.Environ(), "PGAPPNAME=pgsurreal-backup")
	if pw := cfg.Password.Reveal(); pw != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
	}
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	return cmd, stderr
}

// runTool runs cmd and explains a failure with the end of its stderr.
func runTool(cmd *exec.Cmd, stderr *tailBuffer) error {
	err := cmd.Run()
	if err == nil {
		return nil
	}
	name := filepath.Base(cmd.Path)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s failed (%s): %s", name, ee.ProcessState, stderr.String())
	}
	return fmt.Errorf("running %s: %w", name, err)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(bytes.ToValidUTF8(t.b, nil)))
	if s == "" {
		return "no output"
	}
	return strings.ReplaceAll(s, "\n", "; ")
}

package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	devserver "github.com/pgsurreal/pgsurreal/tools/surreal-dev-server"
)

// MinNodeMajor is the oldest Node.js the dev server runs on.
const MinNodeMajor = 20

type surrealServer struct {
	o       Options
	data    string
	pidFile string
	logFile string
}

func newSurreal(o Options) *surrealServer {
	return &surrealServer{
		o:       o,
		data:    filepath.Join(o.Dir, "surreal"),
		pidFile: filepath.Join(o.Dir, "surreal.pid"),
		logFile: filepath.Join(o.Dir, "surreal.log"),
	}
}

func (s *surrealServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.o.SurrealPort) }
func (s *surrealServer) url() string  { return "ws://" + s.addr() + "/rpc" }

func (s *surrealServer) storage() string {
	if s.o.SurrealStorage == "mem" {
		return "mem://"
	}
	if s.o.SurrealStorage == "rocksdb" {
		return "rocksdb://" + s.data
	}
	return "surrealkv://" + s.data
}

// healthy reports whether the dev server answers GET /health.
func (s *surrealServer) healthy() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + s.addr() + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// ours returns the pid of this stack's running dev server, or 0.
func (s *surrealServer) ours() int {
	pid := readPID(s.pidFile)
	if pid > 0 && alive(pid) && strings.Contains(cmdline(pid), "server.mjs") {
		return pid
	}
	return 0
}

func (s *surrealServer) up(ctx context.Context) error {
	if pid := s.ours(); pid > 0 {
		if err := waitFor(ctx, 30*time.Second, func() (bool, error) { return s.healthy(), nil }); err != nil {
			return fmt.Errorf("the SurrealDB dev server (pid %d) is running but %s/health does not answer: run `pgsurreal dev down` and retry; log: %s", pid, s.addr(), s.logFile)
		}
		s.o.Log.Info("SurrealDB dev server already running", "url", s.url(), "pid", pid)
		return nil
	}
	if portBusy(s.addr()) {
		return fmt.Errorf("cannot start the SurrealDB dev server: %s is already in use by another process; stop it or choose another port with dev.surreal_port (and surreal.url)", s.addr())
	}
	node, err := findNode(s.o.NodeBin)
	if err != nil {
		return err
	}
	dir, err := install(ctx, node, s.o.Log)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.data, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(node, filepath.Join(dir, "server.mjs"),
		"--bind", s.addr(), "--storage", s.storage(), "--user", s.o.SurrealUser)
	cmd.Env = append(os.Environ(), "SURREAL_PASS="+s.o.SurrealPass)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlive `dev up`
	s.o.Log.Info("starting SurrealDB dev server", "addr", s.addr(), "storage", s.storage())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", node, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reap it if this process outlives it
	if err := os.WriteFile(s.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	err = waitFor(ctx, 60*time.Second, func() (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("the SurrealDB dev server exited during start; %s ends with:\n%s", s.logFile, tail(s.logFile, 15))
		default:
		}
		return s.healthy(), nil
	})
	if err != nil {
		_ = s.down(context.WithoutCancel(ctx))
		return fmt.Errorf("starting the SurrealDB dev server: %w", err)
	}
	return nil
}

func (s *surrealServer) down(ctx context.Context) error {
	pid := s.ours()
	if pid == 0 {
		_ = os.Remove(s.pidFile)
		return nil
	}
	s.o.Log.Info("stopping SurrealDB dev server", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if err := waitFor(ctx, 15*time.Second, func() (bool, error) { return !alive(pid), nil }); err != nil {
		s.o.Log.Warn("SurrealDB dev server did not stop on SIGTERM; killing it", "pid", pid)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = waitFor(ctx, 5*time.Second, func() (bool, error) { return !alive(pid), nil })
	}
	// The server's port must be free before down returns.
	_ = waitFor(ctx, 10*time.Second, func() (bool, error) { return !portBusy(s.addr()), nil })
	return os.Remove(s.pidFile)
}

func (s *surrealServer) status(context.Context) ServerStatus {
	st := ServerStatus{URL: s.url(), DataDir: s.data, Log: s.logFile}
	if pid := s.ours(); pid > 0 {
		st.PID = pid
		st.Running = s.healthy()
	}
	return st
}

var nodeVersionRE = regexp.MustCompile(`^v(\d+)\.`)

// findNode checks that Node.js 20+ is installed.
func findNode(bin string) (string, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("Node.js (%q) not found: install Node.js %d or newer, or set dev.node_bin to its path; the SurrealDB dev server runs on it", bin, MinNodeMajor)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", path, err)
	}
	m := nodeVersionRE.FindStringSubmatch(strings.TrimSpace(string(out)))
	if v, _ := strconv.Atoi(safeIndex(m, 1)); v < MinNodeMajor {
		return "", fmt.Errorf("%s is Node.js %s; the SurrealDB dev server needs %d or newer", path, strings.TrimSpace(string(out)), MinNodeMajor)
	}
	return path, nil
}

func safeIndex(m []string, i int) string {
	if i < len(m) {
		return m[i]
	}
	return ""
}

// InstallServer installs the SurrealDB dev server (once per version) and
// returns the node executable and the path of its server.mjs, for tests
// that run a server of their own.
func InstallServer(ctx context.Context, nodeBin string) (node, script string, err error) {
	node, err = findNode(nodeBin)
	if err != nil {
		return "", "", err
	}
	dir, err := install(ctx, node, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", "", err
	}
	return node, filepath.Join(dir, "server.mjs"), nil
}

// install writes the embedded dev server into a cache directory named by
// the hash of its files and runs `npm ci` there once, so every stack of
// one pgsurreal version shares one installation.
func install(ctx context.Context, node string, log interface{ Info(string, ...any) }) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(devserver.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := devserver.Files.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "pgsurreal", "surreal-dev-server-"+hex.EncodeToString(h.Sum(nil))[:16])
	marker := filepath.Join(dir, ".installed")
	if _, err := os.Stat(marker); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(filepath.Dir(dir))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(marker); err == nil {
		return dir, nil // another process installed it while we waited
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.CopyFS(dir, devserver.Files); err != nil {
		return "", fmt.Errorf("writing the dev server to %s: %w", dir, err)
	}
	npm := filepath.Join(filepath.Dir(node), "npm")
	if _, err := os.Stat(npm); err != nil {
		if npm, err = exec.LookPath("npm"); err != nil {
			return "", errors.New("npm not found: install npm (it comes with Node.js) so the dev server's pinned packages can be installed")
		}
	}
	log.Info("installing the SurrealDB dev server's npm packages (once per version)", "dir", dir)
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if _, err := run(cmd); err != nil {
		return "", fmt.Errorf("installing the dev server's npm packages in %s (check network access to the npm registry): %w", dir, err)
	}
	return dir, os.WriteFile(marker, nil, 0o644)
}

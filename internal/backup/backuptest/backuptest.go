// Package backuptest gives tests of backups a SurrealDB that serves the
// HTTP /export and /import endpoints: the shared test stack's, or, when
// that server was started from older dev-server sources (it keeps running
// until `make test` stops it), a dev server of the test binary's own, run
// from the sources compiled into it. Call Stop from TestMain.
package backuptest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

var own struct {
	once sync.Once
	cmd  *exec.Cmd
	dir  string
	url  string
	err  error
}

// Env returns the test environment with a SurrealDB that serves /export
// and /import.
func Env(t testing.TB) *testenv.Env {
	t.Helper()
	e := testenv.Get(t)
	if ServesExport(e.Surreal.URL) {
		return e
	}
	own.once.Do(func() { own.url, own.err = start() })
	if own.err != nil {
		t.Fatalf("starting a SurrealDB dev server of the test's own: %v", own.err)
	}
	mine := *e
	mine.Surreal.URL = own.url
	mine.Surreal.Password = "root"
	return &mine
}

// ServesExport reports whether the server behind an RPC URL has /export:
// it refuses an unauthenticated request with 401 (not 404).
func ServesExport(rpc string) bool {
	u, err := url.Parse(rpc)
	if err != nil {
		return false
	}
	resp, err := http.Get("http://" + u.Host + "/export")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusUnauthorized
}

func start() (string, error) {
	node, script, err := devstack.InstallServer(context.Background(), "node")
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if own.dir, err = os.MkdirTemp("", "pgsurreal-backup-test-"); err != nil {
		return "", err
	}
	cmd := exec.Command(node, script, "--bind", fmt.Sprintf("127.0.0.1:%d", port), "--storage", "surrealkv://"+own.dir, "--log-level", "error")
	cmd.Env = append(os.Environ(), "SURREAL_PASS=root")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	own.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err == nil {
			resp.Body.Close()
			return fmt.Sprintf("ws://127.0.0.1:%d/rpc", port), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the server on port %d did not answer /health within a minute", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the test binary's own server, if one was started.
func Stop() {
	if own.cmd != nil {
		_ = own.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = own.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = own.cmd.Process.Kill()
			<-done
		}
	}
	if own.dir != "" {
		_ = os.RemoveAll(own.dir)
	}
}

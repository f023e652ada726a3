package sync_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/devstack"
	"github.com/pgsurreal/pgsurreal/internal/surreal"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// surrealServer is a SurrealDB dev server of the test's own, on disk, so
// the test can stop and restart it.
type surrealServer struct {
	t       *testing.T
	node    string
	script  string
	dir     string
	port    int
	storage string // surrealkv or rocksdb
	cmd     *exec.Cmd
	stopped chan struct{}
}

func newSurrealServer(t *testing.T) *surrealServer {
	t.Helper()
	node, script, err := devstack.InstallServer(context.Background(), "node")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := filepath.Join(testenv.RepoRoot(), ".pgsurreal", "test", testenv.Name(t))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &surrealServer{t: t, node: node, script: script, dir: dir, port: port, storage: "surrealkv"}
	t.Cleanup(s.stop)
	return s
}

func (s *surrealServer) url() string { return fmt.Sprintf("ws://127.0.0.1:%d/rpc", s.port) }

func (s *surrealServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.node, s.script, "--bind", fmt.Sprintf("127.0.0.1:%d", s.port), "--storage", s.storage+"://"+s.dir, "--log-level", "warn")
	s.cmd.Env = append(os.Environ(), "SURREAL_PASS=root")
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.stopped = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(s.cmd, s.stopped)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", s.port))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatal("SurrealDB server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *surrealServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.stopped:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.stopped
	}
	s.cmd = nil
}

// TestSurrealOutage stops SurrealDB for 30 s under a write load and
// starts it again: the pipeline retries, resumes, and SurrealDB ends up
// equal to PostgreSQL.
func TestSurrealOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	srv := newSurrealServer(t)
	srv.start()
	f := newFixture(t, shopSchema)
	withEdge(f)
	f.useServer(srv)
	stop := f.start()
	f.caughtUp(60 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ops atomic.Int64
	loadErr := make(chan error, 1)
	go func() { loadErr <- load(ctx, f.pool, &ops) }()
	time.Sleep(2 * time.Second)
	srv.stop()
	t.Logf("SurrealDB stopped after %d writes", ops.Load())
	time.Sleep(30 * time.Second)
	srv.start()
	t.Logf("SurrealDB restarted after %d writes", ops.Load())
	// The test's own client lost its connection too.
	f.useServer(srv)
	time.Sleep(3 * time.Second)
	cancel()
	if err := <-loadErr; err != nil {
		t.Fatalf("load: %v", err)
	}
	f.caughtUp(2 * time.Minute)
	f.assertSame()
	if err := stop(); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
}

// useServer points the fixture (and the pipelines it starts) at srv.
func (f *fixture) useServer(srv *surrealServer) {
	f.t.Helper()
	f.sur.URL = srv.url()
	f.sur.Password = "root"
	cl, err := surreal.Connect(context.Background(), f.sur, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = cl.Close(context.Background()) })
	f.cl = cl
}

package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
)

// Authentication methods.
const (
	AuthSCRAM     = "scram-sha-256"
	AuthCleartext = "password"
)

// Options configure a Server.
type Options struct {
	// Listen is host:port (":0" picks a free port).
	Listen string
	// User is the one user clients log in as.
	User string
	// Password is its password; it is never logged.
	Password config.Secret
	// Auth is "scram-sha-256" (the default) or "password" (cleartext).
	Auth string
	// TLSCert and TLSKey are optional PEM files; when set, SSLRequest is
	// answered 'S' and the connection switches to TLS, else 'N'.
	TLSCert, TLSKey string
	// Postgres is how each client session connects to PostgreSQL: every
	// session gets a connection of its own.
	Postgres config.Postgres
	// Engine plans statements that read SurrealDB tables; nil passes
	// every statement to PostgreSQL unchanged.
	Engine *federation.Engine
	Log    *slog.Logger
	// Registerer receives the metrics; nil means none.
	Registerer prometheus.Registerer
}

// Server is a PostgreSQL wire protocol server in front of PostgreSQL and
// the federation engine.
type Server struct {
	o       Options
	ln      net.Listener
	tls     *tls.Config
	scram   *scramVerifier
	planner planner
	log     *slog.Logger
	m       *metrics

	mu       sync.Mutex
	sessions map[uint32]*session // by the process id given to the client
}

// Listen checks o and binds the socket; Serve then accepts clients.
func Listen(o Options) (*Server, error) {
	if o.User == "" {
		return nil, errors.New("pgwire: no user: set federation.user")
	}
	if o.Password == "" {
		return nil, errors.New("pgwire: no password: set federation.password (or PGSURREAL_FEDERATION_PASSWORD)")
	}
	switch o.Auth {
	case "":
		o.Auth = AuthSCRAM
	case AuthSCRAM, AuthCleartext:
	default:
		return nil, fmt.Errorf("pgwire: unknown auth method %q: set federation.auth to %s or %s", o.Auth, AuthSCRAM, AuthCleartext)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: o.Log, planner: passThrough{}, sessions: map[uint32]*session{}}
	if o.Engine != nil {
		s.planner = enginePlanner{o.Engine}
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("pgwire: only one of federation.tls_cert and federation.tls_key is set: set both or neither")
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("pgwire: loading the TLS certificate %s and key %s: %w; both must be PEM files and the key must match the certificate", o.TLSCert, o.TLSKey, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.Auth == AuthSCRAM {
		v, err := newScramVerifier(o.Password.Reveal())
		if err != nil {
			return nil, fmt.Errorf("pgwire: %w", err)
		}
		s.scram = v
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("pgwire: cannot listen on %s: %w; stop the program using that address or set federation.listen to a free host:port", o.Listen, err)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("pgwire: registering metrics: %w", err)
	}
	s.ln, s.m = ln, m
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts clients until ctx is done, then closes the listener and
// every session (each session's PostgreSQL connection with it) and
// returns nil; it returns an error only when accepting fails otherwise.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	var err error
	for {
		c, aerr := s.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("pgwire: accepting clients on %s: %w", s.Addr(), aerr)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
		}()
	}
	cancel()
	wg.Wait()
	return err
}

// register gives a session the key data a client cancels it with.
func (s *Server) register(sess *session) error {
	secret := make([]byte, 4)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		pid := binary.BigEndian.Uint32(b[:]) & 0x7fffffff
		if _, taken := s.sessions[pid]; pid != 0 && !taken {
			sess.pid, sess.secret = pid, secret
			s.sessions[pid] = sess
			return nil
		}
	}
}

func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.pid] == sess {
		delete(s.sessions, sess.pid)
	}
}

// cancel handles a CancelRequest: as in PostgreSQL nothing is answered,
// whether the key matched or not.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	sess := s.sessions[pid]
	s.mu.Unlock()
	if sess == nil || subtle.ConstantTimeCompare(sess.secret, secret) != 1 {
		s.log.Debug("pgwire: cancel request with an unknown key")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess.cancel(ctx)
}

// metrics are the server's Prometheus metrics.
type metrics struct {
	conns   prometheus.Gauge
	queries *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_pgwire_connections",
			Help: "Client connections open on the PostgreSQL wire protocol server.",
		}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_pgwire_queries_total",
			Help: "Statements run for wire protocol clients, by route (passthrough or federated) and outcome (ok or error).",
		}, []string{"route", "outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{m.conns, m.queries} {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, err
		}
		done = append(done, c)
	}
	return m, nil
}

// Routes and outcomes of pgsurreal_pgwire_queries_total.
const (
	routePass = "passthrough"
	routeFed  = "federated"
)

func (m *metrics) query(route string, failed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.queries.WithLabelValues(route, outcome).Inc()
}

// Package api is pgsurreal's HTTP front end: POST /v1/query runs one
// federated SQL statement and answers JSON; POST /v1/tx runs a
// distributed transaction; GET /v1/maintenance shows the scheduled
// maintenance jobs and POST /v1/maintenance/{job}/run starts one; GET
// /v1/status says whether this process leads or stands by; /metrics
// serves the process's Prometheus registry and /healthz says the process
// is up.
//
// Every /v1 endpoint needs `Authorization: Bearer <http.token>`; with no
// token configured they refuse every request, so a daemon started
// without one never exposes its databases. A browser signs in at /login
// with the same token (kept in an HttpOnly cookie) for the dashboard at /.
// /metrics, /healthz and /readyz need no token (scrapers and probes carry
// none).
package api

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/federation"
	"github.com/pgsurreal/pgsurreal/internal/txn"
)

// Defaults of Options.
const (
	DefaultMaxBody = 1 << 20
	DefaultTimeout = 30 * time.Second
)

// Options are what the handler is built from.
type Options struct {
	// Token is the bearer token the data endpoints require (http.token).
	// Empty refuses every data request.
	Token config.Secret
	// Engine answers /v1/query; nil answers 503 (commands other than
	// serve run no engine).
	Engine *federation.Engine
	// Tx runs POST /v1/tx; nil answers 503.
	Tx *txn.Coordinator
	// Maintenance is the scheduler behind /v1/maintenance (a
	// *maintenance.Scheduler); nil answers 503.
	Maintenance Maintenance
	// Readiness answers /readyz; nil answers ready (no checks).
	Readiness Readiness
	// Status answers GET /v1/status (the process's role under the
	// leader lease); nil answers 503.
	Status StatusFunc
	// Dashboard is the web dashboard, served at / and below /ui/ to a
	// browser signed in with the token (POST /login sets a cookie); nil
	// serves none.
	Dashboard http.Handler
	// Registry is served at /metrics and receives the API's own metrics;
	// nil serves no /metrics.
	Registry *prometheus.Registry
	Log      *slog.Logger
	// MaxBody bounds a request body; 0 means DefaultMaxBody (1 MiB).
	MaxBody int64
	// Timeout bounds one query; 0 means DefaultTimeout (30s).
	Timeout time.Duration
}

// handler holds what every request needs.
type handler struct {
	o       Options
	token   [sha256.Size]byte
	engine  engine
	txr     txRunner
	maint   Maintenance
	metrics *metrics
}

// engine is what the query endpoint needs of *federation.Engine.
type engine interface {
	Query(ctx context.Context, q federation.Querier, sql string, args []any, o federation.QueryOptions) (*federation.Result, error)
}

// New returns the handler serving /v1/query, /v1/tx, /v1/maintenance,
// /v1/status, /metrics and /healthz.
func New(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	h := &handler{o: o, token: sha256.Sum256([]byte(o.Token.Reveal()))}
	if o.Engine != nil {
		h.engine = o.Engine
	}
	if o.Tx != nil {
		h.txr = o.Tx
	}
	h.maint = maintenanceOf(o.Maintenance)
	var reg prometheus.Registerer
	if o.Registry != nil {
		reg = o.Registry
	}
	h.metrics = newMetrics(reg)

	mux := http.NewServeMux()
	mux.Handle("POST /v1/query", h.authorized(http.HandlerFunc(h.query)))
	mux.Handle("POST /v1/tx", h.authorized(http.HandlerFunc(h.tx)))
	mux.Handle("GET "+statusPath, h.authorized(http.HandlerFunc(h.maintenanceStatus)))
	mux.Handle("POST "+statusPath+"/{job}/run", h.authorized(http.HandlerFunc(h.maintenanceRun)))
	mux.Handle("GET /v1/status", h.authorized(http.HandlerFunc(h.status)))
	if o.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", h.ready)
	if o.Dashboard != nil {
		mux.HandleFunc("GET /login", h.loginForm)
		mux.HandleFunc("POST /login", h.login)
		mux.Handle("GET /{$}", h.page(o.Dashboard))
		mux.Handle("GET /ui/", h.page(o.Dashboard))
	}
	return h.instrument(mux)
}

// authorized lets a request through only with the configured bearer
// token. Both sides are hashed first so the comparison takes the same
// time whatever the token's length.
func (h *handler) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.Token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pgsurreal"`)
			writeError(w, http.StatusUnauthorized, apiError{Code: "28000", Message: "the HTTP API is disabled because no token is configured: set http.token (or PGSURREAL_HTTP_TOKEN) and send it as Authorization: Bearer <token>"})
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			got, ok = cookieToken(r) // a browser signed in at /login
		}
		if !ok || !h.tokenOK(got) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pgsurreal", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, apiError{Code: "28000", Message: "missing or wrong bearer token: send Authorization: Bearer <http.token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer extracts the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive, RFC 7235).
func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// instrument counts every request by route pattern and status code.
func (h *handler) instrument(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		_, pattern := next.Handler(r)
		next.ServeHTTP(sw, r)
		path := routeLabel(pattern)
		h.metrics.requests.WithLabelValues(path, strconv.Itoa(sw.code)).Inc()
		h.metrics.duration.WithLabelValues(path).Observe(time.Since(start).Seconds())
	})
}

// routeLabel keeps the path label to the routes served, whatever paths
// clients ask for.
func routeLabel(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	if pattern == "" {
		return "other"
	}
	return pattern
}

type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_api_requests_total",
			Help: "HTTP API requests by route and status code.",
		}, []string{"path", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pgsurreal_api_request_duration_seconds",
			Help:    "HTTP API request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"path"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

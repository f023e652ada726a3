package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/maintenance"
)

// Defaults of Options.
const (
	DefaultPoll        = 2 * time.Second
	DefaultWindow      = 10 * time.Minute
	DefaultTablesEvery = 10 * time.Second
	DefaultTablesLimit = 5 * time.Second
)

// Options are what the dashboard is built from. Only Gatherer is needed;
// a panel whose source is nil says so instead of showing data.
type Options struct {
	// Gatherer is the daemon's metric registry, read in-process on each
	// request.
	Gatherer prometheus.Gatherer
	// Maintenance is the scheduler of verify and backup (a
	// *maintenance.Scheduler): the last run of each.
	Maintenance Maintenance
	// Alerts is the alert evaluator: alerts firing now and recent
	// firing/resolved events.
	Alerts AlertSource
	// Tables counts each replicated table on both sides. It may be slow
	// (it counts rows): it is called at most once per TablesEvery,
	// bounded by TablesLimit, and its last answer is shown meanwhile.
	Tables func(ctx context.Context) ([]TableCount, error)
	Log    *slog.Logger
	// Version is shown in the page's header (buildinfo.String()).
	Version string
	// Poll is how often the page asks for new data; 0 means DefaultPoll.
	Poll time.Duration
	// Window is how much history the page's charts keep; 0 means
	// DefaultWindow.
	Window time.Duration
	// TablesEvery is how long a count of Tables is reused; 0 means
	// DefaultTablesEvery.
	TablesEvery time.Duration
	// TablesLimit bounds one call of Tables; 0 means DefaultTablesLimit.
	TablesLimit time.Duration

	// now is the clock; nil is time.Now.
	now func() time.Time
}

// Maintenance is what the dashboard needs of the maintenance scheduler
// (*maintenance.Scheduler implements it).
type Maintenance interface {
	Status() maintenance.Status
}

// AlertSource is what the dashboard needs of the alert evaluator. It is
// called on every poll of every open page: it must answer from memory.
type AlertSource interface {
	AlertStatus() AlertStatus
}

// AlertFunc adapts a function to AlertSource.
type AlertFunc func() AlertStatus

// AlertStatus implements AlertSource.
func (f AlertFunc) AlertStatus() AlertStatus { return f() }

// AlertStatus is what the alert panel shows.
type AlertStatus struct {
	// Active are the alerts firing or pending now.
	Active []Alert `json:"active"`
	// Recent are the latest firing and resolved notifications, newest
	// first; the page shows the first 20.
	Recent []AlertEvent `json:"recent"`
}

// Alert is one alert firing now, or pending (its condition holds, not
// yet for long enough).
type Alert struct {
	Name string `json:"name"`
	// State is StateFiring or StatePending.
	State string `json:"state,omitempty"`
	// Severity is a word such as "critical" or "warning".
	Severity string `json:"severity,omitempty"`
	// Summary is one line for people ("sync lag 42 s > 30 s").
	Summary string            `json:"summary,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Since is when it started firing.
	Since time.Time `json:"since,omitzero"`
}

// States of Alert.State and AlertEvent.State.
const (
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// AlertEvent is one alert changing state.
type AlertEvent struct {
	Time     time.Time         `json:"time"`
	Name     string            `json:"name"`
	State    string            `json:"state"`
	Severity string            `json:"severity,omitempty"`
	Summary  string            `json:"summary,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// Directions of TableCount.Direction.
const (
	// Forward is a PostgreSQL table replicated into SurrealDB (sync).
	Forward = "forward"
	// Reverse is a SurrealDB table replicated into PostgreSQL.
	Reverse = "reverse"
	// TwoWay is a table written on both sides.
	TwoWay = "two_way"
)

// Unknown is a count that could not be taken (TableCount.PostgresRows,
// SurrealRecords).
const Unknown int64 = -1

// TableCount is one replicated table, counted on both sides.
type TableCount struct {
	// Table is the PostgreSQL table, "schema.name", as
	// pgsurreal_sync_changes_total labels it.
	Table string `json:"table"`
	// Surreal is the SurrealDB table, as pgsurreal_reverse_changes_total
	// labels it.
	Surreal string `json:"surreal"`
	// Direction is Forward, Reverse or TwoWay.
	Direction string `json:"direction"`
	// PostgresRows and SurrealRecords are the counts, Unknown when not
	// taken.
	PostgresRows   int64 `json:"postgres_rows"`
	SurrealRecords int64 `json:"surreal_records"`
	// State is the table's replication state in a word or two
	// ("streaming", "snapshot 40%", "stopped"); empty shows nothing.
	State string `json:"state,omitempty"`
	// LastChange is when a change of the table was last applied; zero
	// shows when the handler last saw its change counter move.
	LastChange time.Time `json:"last_change,omitzero"`
}

// handler serves the page, its data and its assets.
type handler struct {
	o      Options
	log    *slog.Logger
	now    func() time.Time
	seen   *tracker
	tables *tableCache

	// The last gather, reused for gatherReuse.
	gmu         sync.Mutex
	gathered    families
	gatheredAt  time.Time
	gatherErr   error
	gatherReuse time.Duration
}

// New returns the dashboard. Mount it behind authentication: it serves
// GET / (the page), GET /ui/data.json, GET /ui/panels and GET
// /ui/assets/*, and answers 404 to anything else.
func New(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.TablesEvery <= 0 {
		o.TablesEvery = DefaultTablesEvery
	}
	if o.TablesLimit <= 0 {
		o.TablesLimit = DefaultTablesLimit
	}
	if s, ok := o.Maintenance.(*maintenance.Scheduler); ok && s == nil {
		o.Maintenance = nil // serve without scheduled jobs has none
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	h := &handler{o: o, log: o.Log, now: now, seen: newTracker(), gatherReuse: min(o.Poll/2, time.Second)}
	if o.Tables != nil {
		h.tables = &tableCache{count: o.Tables, every: o.TablesEvery, limit: o.TablesLimit, log: o.Log, now: now}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /ui/data.json", h.data)
	mux.HandleFunc("GET /ui/panels", h.panels)
	mux.Handle("GET "+assetPrefix, assetHandler())
	return secure(mux)
}

// secure sets the headers every response carries: a Content-Security-
// Policy allowing only this origin's script, style and requests (the page
// has no inline script or style), and no framing, sniffing or referrer.
func secure(next http.Handler) http.Handler {
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// page serves the whole page, rendered with the current data.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	s := h.snapshot(r.Context())
	h.render(w, "page", pageData{
		Version: h.o.Version, PollMS: h.o.Poll.Milliseconds(), WindowS: int64(h.o.Window.Seconds()), Poll: h.o.Poll, Window: h.o.Window,
		Charts: charts, CSS: assetURL("dashboard.css"), JS: assetURL("dashboard.js"), Panels: s,
	})
}

// panels serves the panels alone, for the page to swap in.
func (h *handler) panels(w http.ResponseWriter, r *http.Request) {
	h.render(w, "panels", h.snapshot(r.Context()))
}

// data serves the snapshot as JSON.
func (h *handler) data(w http.ResponseWriter, r *http.Request) {
	s := h.snapshot(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	if err := enc.Encode(s); err != nil {
		h.log.Debug("writing the dashboard data", "err", err)
	}
}

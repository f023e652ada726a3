package dashboard

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pgsurreal/pgsurreal/internal/maintenance"
)

// snapshot is everything one poll shows: data.json is its JSON, the
// panels its HTML.
type snapshot struct {
	Time time.Time `json:"time"`
	// Values are the charts' gauges and counters, each summed over its
	// labels; a metric the daemon does not export is absent.
	Values map[string]float64 `json:"values"`
	// Histograms are the charts' histograms, summed over their labels.
	Histograms map[string]histogram `json:"histograms"`
	Status     []tile               `json:"status"`
	Tables     tablesPanel          `json:"tables"`
	Problems   []problem            `json:"problems"`
	// Alerts and Maintenance are null when the daemon gave no source.
	Alerts      *AlertStatus `json:"alerts"`
	Maintenance []jobView    `json:"maintenance"`
	// HasMaint says the daemon gave a maintenance source.
	HasMaint bool `json:"-"`
	// MetricsErr is the registry's gathering error, if any.
	MetricsErr string `json:"metrics_error,omitempty"`
}

// tile is one of the status tiles at the top of the panels.
type tile struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// State colours it: ok, warn, bad or off (not exported).
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// tablesPanel is the per-table status.
type tablesPanel struct {
	// Configured is false when the daemon gave no Tables source.
	Configured bool       `json:"configured"`
	Rows       []tableRow `json:"rows"`
	// Error is the last count's failure; Rows are then the last good
	// count, CountedAt its time.
	Error     string    `json:"error,omitempty"`
	CountedAt time.Time `json:"counted_at,omitzero"`
}

// tableRow is a counted table with its change counters.
type tableRow struct {
	TableCount
	// Changes are the changes applied to the table in its directions
	// (pgsurreal_sync_changes_total of Table, reverse of Surreal).
	Changes float64 `json:"changes"`
	// Moved is when the handler saw Changes move; shown when LastChange
	// is zero.
	Moved moved `json:"-"`
}

// problem is an error or conflict counter above zero.
type problem struct {
	What   string  `json:"what"`
	Detail string  `json:"detail,omitempty"`
	Total  float64 `json:"total"`
	Moved  moved   `json:"-"`
	// LastIncrease is Moved for JSON: when the handler last saw the
	// counter go up; absent when it was already above zero when first
	// seen and has not moved since.
	LastIncrease time.Time `json:"last_increase,omitzero"`
}

// jobView is one maintenance job's panel line.
type jobView struct {
	Name      string           `json:"name"`
	Scheduled bool             `json:"scheduled"`
	Schedule  string           `json:"schedule,omitempty"`
	Next      time.Time        `json:"next,omitzero"`
	Running   bool             `json:"running"`
	Last      *maintenance.Run `json:"last,omitempty"`
	// LastOK is the last successful run when Last failed.
	LastOK *maintenance.Run `json:"last_ok,omitempty"`
	// Missing is true for verify or backup when the scheduler has no
	// such job.
	Missing bool `json:"missing,omitempty"`
}

// snapshot gathers the metrics and asks every source.
func (h *handler) snapshot(ctx context.Context) *snapshot {
	fams, now, err := h.gather()
	s := &snapshot{Time: now, Values: map[string]float64{}, Histograms: map[string]histogram{}}
	if err != nil {
		s.MetricsErr = err.Error()
	}
	values, hists := chartMetrics()
	for _, name := range values {
		if v, ok := fams.sum(name, nil); ok && finite(v) {
			s.Values[name] = v
		}
	}
	for _, name := range hists {
		if hg, ok := fams.histogram(name); ok {
			s.Histograms[name] = hg
		}
	}
	s.Status = statusTiles(fams)
	s.Problems = h.problems(fams, now)
	s.Tables = h.tablesPanel(ctx, fams, now)
	if h.o.Alerts != nil {
		a := h.o.Alerts.AlertStatus()
		if a.Active == nil {
			a.Active = []Alert{}
		}
		if a.Recent == nil {
			a.Recent = []AlertEvent{}
		}
		if len(a.Recent) > maxAlertEvents {
			a.Recent = a.Recent[:maxAlertEvents]
		}
		s.Alerts = &a
	}
	if h.o.Maintenance != nil {
		s.HasMaint = true
		s.Maintenance = jobViews(h.o.Maintenance.Status())
	}
	return s
}

// gather reads the registry, or returns what it read less than
// gatherReuse ago: a poll asks for data.json and then for the panels,
// and each gather runs the database collectors (internal/monitor), so
// the two, and pages polling at the same moment, share one.
func (h *handler) gather() (families, time.Time, error) {
	h.gmu.Lock()
	defer h.gmu.Unlock()
	now := h.now()
	if h.gathered != nil && now.Sub(h.gatheredAt) < h.gatherReuse {
		return h.gathered, h.gatheredAt, h.gatherErr
	}
	fams := families{}
	var err error
	if h.o.Gatherer != nil {
		var mfs []*dto.MetricFamily
		// Gather returns what it could with the error.
		mfs, err = h.o.Gatherer.Gather()
		if err != nil {
			h.log.Warn("gathering metrics for the dashboard", "err", err)
		}
		for _, mf := range mfs {
			fams[mf.GetName()] = mf
		}
	}
	h.gathered, h.gatheredAt, h.gatherErr = fams, now, err
	return fams, now, err
}

// maxAlertEvents is how many recent alert events the page lists.
const maxAlertEvents = 20

// The leader lease's gauges (internal/leader), present when serve runs
// with ha.enabled.
const (
	mLeader        = "pgsurreal_leader"
	mLeaderStandby = "pgsurreal_leader_standby"
)

// statusTiles summarise the daemon's parts at a glance.
func statusTiles(f families) []tile {
	leading, ha := f.sum(mLeader, nil)
	behind, _ := f.sum(mLeaderStandby, nil)
	standby := ha && leading < 1 && behind >= 1
	up := func(name, metric string) tile {
		v, ok := f.sum(metric, nil)
		switch {
		case !ok:
			return tile{Name: name, Value: "—", State: "off", Detail: "not monitored"}
		case v >= 1:
			return tile{Name: name, Value: "up", State: "ok"}
		default:
			return tile{Name: name, Value: "down", State: "bad"}
		}
	}
	direction := func(name, running, lag string) tile {
		t := tile{Name: name}
		if l, ok := f.sum(lag, nil); ok {
			t.Detail = "lag " + fmtSeconds(l)
		}
		r, ok := f.sum(running, nil)
		switch {
		case ok && r >= 1:
			t.Value, t.State = "running", "ok"
		case ok && standby:
			t.Value, t.State, t.Detail = "standby", "off", "another daemon leads"
		case ok:
			t.Value, t.State = "stopped", "bad"
		case f.has(lag):
			t.Value, t.State = "on", "ok"
		default:
			t.Value, t.State, t.Detail = "off", "off", "not configured"
		}
		return t
	}
	var tiles []tile
	switch {
	case standby:
		tiles = append(tiles, tile{Name: "Role", Value: "standby", State: "ok", Detail: "serves queries; another daemon holds the leader lease"})
	case ha && leading >= 1:
		tiles = append(tiles, tile{Name: "Role", Value: "leader", State: "ok", Detail: "holds the leader lease: runs replication"})
	case ha:
		tiles = append(tiles, tile{Name: "Role", Value: "no leader", State: "warn", Detail: "taking the lease, or no daemon holds it that this one can see"})
	}
	tiles = append(tiles,
		up("PostgreSQL", mPostgresUp),
		up("SurrealDB", mSurrealUp),
		direction("PostgreSQL → SurrealDB", mSyncRunning, mSyncLag),
		direction("SurrealDB → PostgreSQL", mReverseRunning, mReverseLag),
	)
	wal := tile{Name: "Slot retained WAL", Value: "—", State: "off", Detail: "sync off"}
	if v, ok := f.sum(mSyncRetainedWAL, nil); ok {
		wal = tile{Name: wal.Name, Value: fmtBytes(v), State: "ok", Detail: "kept by the replication slot"}
	}
	doubt := tile{Name: "In-doubt transactions", Value: "—", State: "off", Detail: "no coordinator"}
	if v, ok := f.sum(mTxInDoubt, nil); ok {
		doubt = tile{Name: doubt.Name, Value: fmtCount(v), State: "ok", Detail: "none prepared and undecided"}
		if v > 0 {
			oldest, _ := f.sum(mTxOldestInDoubt, nil)
			doubt.State, doubt.Detail = "warn", "oldest "+fmtSeconds(oldest)
		}
	}
	drift := tile{Name: "Drift", Value: "—", State: "off", Detail: "no verify yet"}
	if v, ok := f.sum(mDrift, nil); ok {
		drift = tile{Name: drift.Name, Value: fmtCount(v), State: "ok", Detail: "differences at the last verify"}
		if v > 0 {
			drift.State = "bad"
		}
	}
	return append(tiles, wal, doubt, drift)
}

// problemSpec is an error or conflict counter the problems panel lists.
type problemSpec struct {
	metric string
	match  labelSet
	what   string
	detail func(l labelSet) string
}

var problemSpecs = []problemSpec{
	{metric: mSyncErrors, what: "Sync errors (PostgreSQL → SurrealDB)", detail: label("kind")},
	{metric: mSyncDeadLetters, what: "Changes parked in the dead-letter table"},
	{metric: mReverseErrors, what: "Reverse errors (SurrealDB → PostgreSQL)", detail: label("kind")},
	{metric: mConflicts, what: "Two-way conflicts", detail: func(l labelSet) string { return l["table"] + ", " + l["winner"] + " won" }},
	{metric: mQueries, match: labelSet{"outcome": "error"}, what: "Failed queries", detail: label("route")},
	{metric: mSlowQueries, what: "Slow federated queries"},
	{metric: mMaintenanceRuns, match: labelSet{"result": "error"}, what: "Failed maintenance runs", detail: label("task")},
}

func label(name string) func(labelSet) string {
	return func(l labelSet) string { return l[name] }
}

// problems lists the error and conflict counters above zero, the most
// recently moved first.
func (h *handler) problems(f families, now time.Time) []problem {
	out := []problem{}
	for _, ps := range problemSpecs {
		group := ps.metric + labelKey(ps.match)
		if f.has(ps.metric) {
			h.seen.look(group, now)
		}
		f.each(ps.metric, ps.match, func(l labelSet, v float64) {
			p := problem{What: ps.what, Total: v}
			if ps.detail != nil {
				p.Detail = ps.detail(l)
			}
			p.Moved = h.seen.observe(group, labelKey(l), v, now)
			if v <= 0 || !finite(v) {
				return
			}
			if !p.Moved.Earlier {
				p.LastIncrease = p.Moved.At
			}
			out = append(out, p)
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastIncrease.After(out[j].LastIncrease) })
	return out
}

func labelKey(l labelSet) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, l[k])
	}
	return b.String()
}

// tablesPanel counts the tables (through the cache) and adds their change
// counters.
func (h *handler) tablesPanel(ctx context.Context, f families, now time.Time) tablesPanel {
	if h.tables == nil {
		return tablesPanel{Rows: []tableRow{}}
	}
	counts, at, err := h.tables.get(ctx)
	p := tablesPanel{Configured: true, Rows: make([]tableRow, 0, len(counts)), CountedAt: at}
	if err != nil {
		p.Error = err.Error()
	}
	h.seen.look("tables", now)
	for _, c := range counts {
		r := tableRow{TableCount: c}
		if c.Direction != Reverse {
			v, _ := f.sum(mSyncChanges, labelSet{"table": c.Table})
			r.Changes += v
		}
		if c.Direction != Forward {
			v, _ := f.sum(mReverseChanges, labelSet{"table": c.Surreal})
			r.Changes += v
		}
		r.Moved = h.seen.observe("tables", c.Direction+"\x00"+c.Table+"\x00"+c.Surreal, r.Changes, now)
		p.Rows = append(p.Rows, r)
	}
	return p
}

// jobViews are the maintenance panel's lines: verify and backup always,
// then any other job.
func jobViews(st maintenance.Status) []jobView {
	byName := map[string]maintenance.JobStatus{}
	var order []string
	for _, j := range st.Jobs {
		byName[j.Name] = j
		order = append(order, j.Name)
	}
	names := []string{maintenance.JobVerify, maintenance.JobBackup}
	for _, n := range order {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	out := make([]jobView, 0, len(names))
	for _, n := range names {
		j, ok := byName[n]
		if !ok {
			out = append(out, jobView{Name: n, Missing: true})
			continue
		}
		v := jobView{Name: n, Scheduled: j.Schedule != "", Schedule: j.Schedule, Next: j.Next, Running: j.Running}
		if len(j.Runs) > 0 {
			last := j.Runs[0]
			v.Last = &last
			if !last.OK {
				for _, r := range j.Runs[1:] {
					if r.OK {
						v.LastOK = &r
						break
					}
				}
			}
		}
		out = append(out, v)
	}
	return out
}

package alert

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
)

// States of an Alert.
const (
	StatePending = "pending"
	StateFiring  = "firing"
)

// Statuses of an Event and of a Notification.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// RecentEvents is how many events Recent keeps.
const RecentEvents = 100

// Alert is an alert whose condition holds now: pending until it has held
// for alerts.for, then firing.
type Alert struct {
	// Name is the alert's name (SyncStopped...), also Labels["alertname"].
	Name string `json:"alert"`
	// Labels identify the instance: alertname, severity and the series'
	// labels (direction, slot, table, task, path, database).
	Labels map[string]string `json:"labels"`
	// State is StatePending or StateFiring.
	State string `json:"state"`
	// Value is what the condition measured at the last evaluation, in the
	// unit of its threshold (seconds, bytes, percent, records).
	Value float64 `json:"value"`
	// Threshold is the limit Value exceeded; nil for conditions without
	// one (a process stopped, a database down, a run failed).
	Threshold *float64 `json:"threshold,omitempty"`
	// Summary says in one sentence what is wrong, with the value and the
	// threshold.
	Summary string `json:"summary"`
	// ActiveAt is when the condition began to hold; FiredAt when the alert
	// fired (zero while pending).
	ActiveAt time.Time `json:"active_at"`
	FiredAt  time.Time `json:"fired_at,omitzero"`
	// Fingerprint identifies the label set (FNV-1a, as Prometheus').
	Fingerprint string `json:"fingerprint"`
}

// Event is an alert firing or resolving.
type Event struct {
	Time        time.Time         `json:"time"`
	Status      string            `json:"status"` // StatusFiring or StatusResolved
	Alert       string            `json:"alert"`
	Labels      map[string]string `json:"labels"`
	Summary     string            `json:"summary"`
	Value       float64           `json:"value"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitzero"`
}

// Options are what an Evaluator is built from.
type Options struct {
	// Config gives the thresholds, the interval, alerts.for and the
	// webhooks.
	Config config.Alerts
	// Gatherer is the registry /metrics serves (required).
	Gatherer prometheus.Gatherer
	// Registerer receives the evaluator's own metrics; nil registers none.
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Client posts the notifications; nil is a plain http.Client (each
	// attempt has its own timeout either way).
	Client *http.Client
	// Instance names this daemon in notifications; empty is the host name.
	Instance string

	// now is the clock; nil is time.Now.
	now func() time.Time
	// retry overrides defaultRetry in tests.
	retry *retryPolicy
}

// Evaluator evaluates the alert conditions against a registry and
// notifies the webhooks.
type Evaluator struct {
	cfg      config.Alerts
	gatherer prometheus.Gatherer
	log      *slog.Logger
	now      func() time.Time
	started  time.Time
	counters *counters
	notifier *notifier
	metrics  *metrics

	mu     sync.Mutex
	active map[string]*Alert // by fingerprint
	recent []Event           // oldest first, at most RecentEvents
	ran    bool
	// gatherErr is the last gather error logged, so that a persisting
	// one is logged once.
	gatherErr string
}

// New checks the options and builds an Evaluator; nothing is evaluated
// or sent before Run.
func New(o Options) (*Evaluator, error) {
	if o.Gatherer == nil {
		return nil, errors.New("alerts: no metrics registry to evaluate; pass the registry /metrics serves as Options.Gatherer")
	}
	if o.Config.EvaluateEvery.Duration <= 0 {
		return nil, fmt.Errorf("alerts.evaluate_every is %s; set a positive interval such as 15s", o.Config.EvaluateEvery)
	}
	if o.Config.For.Duration < 0 {
		return nil, fmt.Errorf("alerts.for is %s; set 0 or more", o.Config.For)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	n, err := newNotifier(o, m)
	if err != nil {
		return nil, err
	}
	return &Evaluator{
		cfg: o.Config, gatherer: o.Gatherer, log: o.Log, now: o.now, started: o.now(),
		counters: newCounters(), notifier: n, metrics: m, active: map[string]*Alert{},
	}, nil
}

// drainTimeout is how long Run lets queued notifications go out once its
// context has ended.
const drainTimeout = 5 * time.Second

// Run evaluates at once and then every alerts.evaluate_every until ctx
// ends; then it gives the notifications still queued drainTimeout to be
// delivered and returns. It returns an error only when called twice.
func (e *Evaluator) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.ran {
		e.mu.Unlock()
		return errors.New("alerts: Evaluator.Run called twice")
	}
	e.ran = true
	e.mu.Unlock()

	stop := e.notifier.start()
	defer stop(drainTimeout)
	t := time.NewTicker(e.cfg.EvaluateEvery.Duration)
	defer t.Stop()
	for {
		e.evaluate(e.now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Active returns the alerts pending or firing now, by name and then
// fingerprint.
func (e *Evaluator) Active() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, 0, len(e.active))
	for _, a := range e.active {
		c := *a
		c.Labels = maps.Clone(a.Labels)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out
}

// Recent returns the last RecentEvents firing and resolved events, newest
// first.
func (e *Evaluator) Recent() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Event, len(e.recent))
	for i, ev := range e.recent {
		ev.Labels = maps.Clone(ev.Labels)
		out[len(out)-1-i] = ev
	}
	return out
}

// evaluate gathers the registry once and moves every alert along its
// states.
func (e *Evaluator) evaluate(now time.Time) {
	mfs, err := e.gatherer.Gather()
	e.noteGatherError(err)
	if err != nil && len(mfs) == 0 {
		return // nothing to judge by: keep the states as they are
	}
	snap := newSnapshot(mfs)
	e.counters.update(now, snap)
	in := &input{now: now, started: e.started, series: snap, counters: e.counters, cfg: e.cfg}

	e.mu.Lock()
	defer e.mu.Unlock()
	holding := map[string]bool{}
	for _, r := range rules {
		for _, inst := range r.eval(in) {
			labels := with(inst.labels, labelAlertName, r.name)
			if _, ok := labels[labelSeverity]; !ok && r.severity != "" {
				labels[labelSeverity] = r.severity
			}
			fp := fingerprint(labels)
			holding[fp] = true
			a := e.active[fp]
			if a == nil {
				a = &Alert{Name: r.name, Labels: labels, State: StatePending, ActiveAt: now, Fingerprint: fp}
				e.active[fp] = a
			}
			a.Value, a.Threshold, a.Summary = finite(inst.value), inst.threshold, inst.summary
			if a.State == StatePending && now.Sub(a.ActiveAt) >= e.cfg.For.Duration {
				a.State, a.FiredAt = StateFiring, now
				e.changed(a, StatusFiring, now)
			}
		}
	}
	for _, fp := range slices.Sorted(maps.Keys(e.active)) {
		if a := e.active[fp]; !holding[fp] {
			delete(e.active, fp)
			if a.State == StateFiring {
				e.changed(a, StatusResolved, now)
			}
		}
	}
	firing := map[string]int{}
	for _, a := range e.active {
		if a.State == StateFiring {
			firing[a.Name]++
		}
	}
	for _, r := range rules {
		e.metrics.firing.WithLabelValues(r.name).Set(float64(firing[r.name]))
	}
}

// changed records, logs and notifies an alert that fired or resolved. The
// caller holds e.mu, so events and notifications keep evaluation order.
func (e *Evaluator) changed(a *Alert, status string, now time.Time) {
	ev := Event{Time: now, Status: status, Alert: a.Name, Labels: maps.Clone(a.Labels), Summary: a.Summary,
		Value: a.Value, Fingerprint: a.Fingerprint, StartsAt: a.FiredAt}
	if status == StatusResolved {
		ev.EndsAt = now
		e.log.Info("alert resolved", "alert", a.Name, "labels", a.Labels, "summary", a.Summary, "fingerprint", a.Fingerprint,
			"firing_for", now.Sub(a.FiredAt).Round(time.Second).String())
	} else {
		e.log.Warn("alert firing", "alert", a.Name, "labels", a.Labels, "summary", a.Summary, "fingerprint", a.Fingerprint)
	}
	if len(e.recent) == RecentEvents {
		e.recent = slices.Delete(e.recent, 0, 1)
	}
	e.recent = append(e.recent, ev)
	e.notifier.send(newNotification(a, status, now, e.notifier.instance))
}

// noteGatherError logs a gather error once while it persists.
func (e *Evaluator) noteGatherError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if msg == e.gatherErr {
		return
	}
	e.gatherErr = msg
	if err != nil {
		e.log.Warn("alerts: gathering metrics failed; evaluating what was gathered", "err", err)
	} else {
		e.log.Info("alerts: gathering metrics works again")
	}
}

// fingerprint hashes a label set as Prometheus does (FNV-1a 64 over the
// sorted names and values, each followed by 0xff), so it equals the
// fingerprint Alertmanager gives the same labels.
func fingerprint(labels map[string]string) string {
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// finite keeps values JSON can carry.
func finite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// metrics are the evaluator's own metrics.
type metrics struct {
	firing        *prometheus.GaugeVec
	notifications *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pgsurreal_alerts_firing", Help: "Instances of each alert firing now, as the daemon evaluates them itself (alerts.*).",
		}, []string{"alert"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgsurreal_alert_notifications_total", Help: "Webhook notifications of alerts (alerts.webhooks), by final result after retries: ok or error.",
		}, []string{"result"}),
	}
	for _, r := range rules {
		m.firing.WithLabelValues(r.name)
	}
	m.notifications.WithLabelValues(resultOK)
	m.notifications.WithLabelValues(resultError)
	if reg != nil {
		for _, c := range []prometheus.Collector{m.firing, m.notifications} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("alerts: registering the evaluator's metrics: %w (build one Evaluator per registry)", err)
			}
		}
	}
	return m, nil
}

package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pgsurreal/pgsurreal/internal/buildinfo"
)

// NotificationVersion is the version of the Notification body.
const NotificationVersion = "1"

// Notification is the JSON body posted to every webhook when an alert
// fires and when it resolves (docs/operations.md shows an example).
type Notification struct {
	// Version of this format, NotificationVersion.
	Version string `json:"version"`
	// Status is StatusFiring or StatusResolved.
	Status string `json:"status"`
	// Alert is the alert's name, also Labels["alertname"].
	Alert  string            `json:"alert"`
	Labels map[string]string `json:"labels"`
	// Summary says what is wrong, with the value and the threshold (for
	// a resolved alert, as last seen firing).
	Summary   string   `json:"summary"`
	Value     float64  `json:"value"`
	Threshold *float64 `json:"threshold"`
	// StartsAt is when the alert fired; EndsAt when it resolved, null
	// while it fires.
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at"`
	// Fingerprint identifies the alert's label set: the firing and the
	// resolved notification of one alert carry the same.
	Fingerprint string `json:"fingerprint"`
	// Instance is the host running pgsurreal serve (Options.Instance).
	Instance string `json:"instance"`
}

func newNotification(a *Alert, status string, now time.Time, instance string) Notification {
	n := Notification{Version: NotificationVersion, Status: status, Alert: a.Name, Labels: a.Labels, Summary: a.Summary,
		Value: a.Value, Threshold: a.Threshold, StartsAt: a.FiredAt, Fingerprint: a.Fingerprint, Instance: instance}
	if status == StatusResolved {
		end := now
		n.EndsAt = &end
	}
	return n
}

// Results of a notification, the result label of
// pgsurreal_alert_notifications_total.
const (
	resultOK    = "ok"
	resultError = "error"
)

// retryPolicy bounds the delivery of one notification to one webhook.
type retryPolicy struct {
	attempts   int           // posts at most
	timeout    time.Duration // for each post
	backoff    time.Duration // before the second post, doubled after each
	maxBackoff time.Duration
}

var defaultRetry = retryPolicy{attempts: 5, timeout: 10 * time.Second, backoff: time.Second, maxBackoff: 30 * time.Second}

// queueSize is how many notifications may wait for one webhook; more are
// dropped (and counted as errors) rather than delay evaluation.
const queueSize = 256

// message is a notification encoded once for every webhook.
type message struct {
	body        []byte
	alert       string
	status      string
	fingerprint string
}

// hook is one webhook and its queue; one worker posts its messages in
// order.
type hook struct {
	key      string // alerts.webhooks[i], which logs name it by
	url      string
	redacted string
	queue    chan message
}

// notifier delivers notifications to every webhook.
type notifier struct {
	log      *slog.Logger
	client   *http.Client
	retry    retryPolicy
	metrics  *metrics
	instance string
	agent    string
	hooks    []*hook

	mu     sync.Mutex // guards closed and sends to the queues
	closed bool
}

func newNotifier(o Options, m *metrics) (*notifier, error) {
	n := &notifier{log: o.Log, client: o.Client, retry: defaultRetry, metrics: m, instance: o.Instance,
		agent: "pgsurreal/" + strings.Fields(buildinfo.String())[1]}
	if o.retry != nil {
		n.retry = *o.retry
	}
	if n.client == nil {
		n.client = &http.Client{}
	}
	if n.instance == "" {
		n.instance, _ = os.Hostname()
	}
	for i, raw := range o.Config.Webhooks {
		key := fmt.Sprintf("alerts.webhooks[%d]", i)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: %s is not an http(s) URL; write one such as https://hooks.example.com/pgsurreal", key, redactURL(raw))
		}
		n.hooks = append(n.hooks, &hook{key: key, url: raw, redacted: redactURL(raw), queue: make(chan message, queueSize)})
	}
	return n, nil
}

// start runs one worker per webhook. The returned stop closes the queues,
// lets the workers deliver what is queued for up to grace, then cancels
// what is still going and waits for the workers.
func (n *notifier) start() (stop func(grace time.Duration)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, h := range n.hooks {
		wg.Go(func() {
			for m := range h.queue {
				n.deliver(ctx, h, m)
			}
		})
	}
	return func(grace time.Duration) {
		n.mu.Lock()
		n.closed = true
		for _, h := range n.hooks {
			close(h.queue)
		}
		n.mu.Unlock()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			n.log.Warn("alerts: notifications still queued at shutdown were abandoned", "after", grace.String())
		}
		cancel()
		<-done
	}
}

// send queues the notification for every webhook without waiting; a full
// queue drops it for that webhook.
func (n *notifier) send(note Notification) {
	if len(n.hooks) == 0 {
		return
	}
	body, err := json.Marshal(note)
	if err != nil { // only non-finite numbers could do this, and finite() removed them
		n.log.Error("alerts: encoding a notification", "alert", note.Alert, "err", err)
		return
	}
	m := message{body: body, alert: note.Alert, status: note.Status, fingerprint: note.Fingerprint}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	for _, h := range n.hooks {
		select {
		case h.queue <- m:
		default:
			n.metrics.notifications.WithLabelValues(resultError).Inc()
			n.log.Error("alerts: notification dropped: the webhook's queue is full (it has been failing or slow); check the receiver",
				"webhook", h.key, "url", h.redacted, "alert", m.alert, "status", m.status, "queued", queueSize)
		}
	}
}

// deliver posts m to h, retrying with exponential backoff, and counts the
// outcome.
func (n *notifier) deliver(ctx context.Context, h *hook, m message) {
	if ctx.Err() != nil { // abandoned at shutdown, which start's stop logs once
		n.metrics.notifications.WithLabelValues(resultError).Inc()
		return
	}
	wait := n.retry.backoff
	var err error
	attempt := 1
	for ; attempt <= n.retry.attempts; attempt++ {
		var permanent bool
		permanent, err = n.post(ctx, h, m)
		if err == nil {
			n.metrics.notifications.WithLabelValues(resultOK).Inc()
			n.log.Debug("alerts: notification delivered", "webhook", h.key, "alert", m.alert, "status", m.status, "attempt", attempt)
			return
		}
		if permanent || attempt == n.retry.attempts || ctx.Err() != nil {
			break
		}
		n.log.Warn("alerts: webhook post failed; retrying", "webhook", h.key, "url", h.redacted, "alert", m.alert, "status", m.status,
			"attempt", attempt, "in", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(wait*2, n.retry.maxBackoff)
	}
	n.metrics.notifications.WithLabelValues(resultError).Inc()
	n.log.Error("alerts: notification not delivered; check that the receiver is up and accepts a JSON POST", "webhook", h.key, "url", h.redacted,
		"alert", m.alert, "status", m.status, "fingerprint", m.fingerprint, "attempts", min(attempt, n.retry.attempts), "err", err)
}

// post makes one attempt. permanent is true for an answer retrying
// cannot change (a 4xx other than 408 and 429).
func (n *notifier) post(ctx context.Context, h *hook, m message) (permanent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.retry.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(m.body))
	if err != nil {
		return true, fmt.Errorf("building the request: %w", stripURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.agent)
	resp, err := n.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return false, fmt.Errorf("no answer within %s", n.retry.timeout)
		}
		return false, stripURL(err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	c := resp.StatusCode
	return c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests, err
}

// stripURL removes the URL from the errors of net/http, which name it
// whole (with its token).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

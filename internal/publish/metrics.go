package publish

import "github.com/prometheus/client_golang/prometheus"

// metrics are the publisher's Prometheus metrics.
type metrics struct {
	messages  prometheus.Counter
	skipped   prometheus.Counter
	errors    prometheus.Counter
	seconds   prometheus.Histogram
	connected prometheus.Gauge
}

// newMetrics creates the metrics and registers them with reg (none when
// reg is nil).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_publish_messages_total", Help: "Changes published to the JetStream stream and acknowledged by it.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_publish_skipped_total", Help: "Changes not sent again because the stream already had them (replays after a restart or a failed attempt).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgsurreal_publish_errors_total", Help: "Failed attempts to publish a batch of changes (each is retried; the changes are not applied to SurrealDB until published).",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pgsurreal_publish_duration_seconds", Help: "Time to publish one batch of changes and receive every acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pgsurreal_publish_connected", Help: "1 while the connection to NATS is up, 0 while it is down.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.messages, m.skipped, m.errors, m.seconds, m.connected)
	}
	return m
}

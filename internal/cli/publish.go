package cli

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/publish"
)

// openPublisher opens the change stream on NATS JetStream that sync
// publishes to, or returns nil when publish.nats_url is empty (off). It
// is opened once per process, so its metrics are registered once even
// when the sync runs again (after a leader lease comes back).
func (a *app) openPublisher(reg prometheus.Registerer) (*publish.Publisher, error) {
	if a.cfg.Publish.NATSURL == "" {
		return nil, nil
	}
	p, err := publish.Open(publish.Options{Config: a.cfg.Publish, Slot: a.cfg.Sync.Slot, Log: a.log, Registerer: reg})
	if err != nil {
		return nil, &config.Error{Key: "publish.nats_url", Msg: err.Error()}
	}
	a.log.Info("publishing changes to NATS JetStream", "nats", publish.Redact(a.cfg.Publish.NATSURL), "stream", a.cfg.Publish.Stream, "subjects", a.cfg.Publish.SubjectPrefix+".>")
	return p, nil
}

package dashboard_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsurreal/pgsurreal/internal/dashboard"
)

// TestRoleTiles: under the leader lease the page says whether this daemon
// leads, and a standby's idle replication is "standby", not "stopped".
func TestRoleTiles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		leader, standby float64
		want            map[string]string
	}{
		{0, 1, map[string]string{"Role": "standby/ok", "PostgreSQL → SurrealDB": "standby/off", "SurrealDB → PostgreSQL": "off/off"}},
		{1, 0, map[string]string{"Role": "leader/ok", "PostgreSQL → SurrealDB": "stopped/bad", "SurrealDB → PostgreSQL": "off/off"}},
		// PostgreSQL unreachable: no leader seen, the stopped sync is bad.
		{0, 0, map[string]string{"Role": "no leader/warn", "PostgreSQL → SurrealDB": "stopped/bad"}},
	} {
		reg := prometheus.NewRegistry()
		for name, v := range map[string]float64{"pgsurreal_leader": c.leader, "pgsurreal_leader_standby": c.standby, "pgsurreal_sync_running": 0} {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name})
			reg.MustRegister(g)
			g.Set(v)
		}
		d := getData(t, dashboard.New(dashboard.Options{Gatherer: reg}))
		got := map[string]string{}
		for _, s := range d.Status {
			got[s.Name] = s.Value + "/" + s.State
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("leader=%v: tile %s = %q, want %q", c.leader, k, got[k], v)
			}
		}
	}
	// Without the lease (HA off, sync alone) there is no role tile.
	d := getData(t, dashboard.New(dashboard.Options{Gatherer: prometheus.NewRegistry()}))
	for _, s := range d.Status {
		if s.Name == "Role" {
			t.Errorf("a role tile without the lease: %+v", s)
		}
	}
}

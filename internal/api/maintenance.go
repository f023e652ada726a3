package api

import (
	"errors"
	"net/http"

	"github.com/pgsurreal/pgsurreal/internal/maintenance"
)

// Maintenance is what the maintenance endpoints need of a
// *maintenance.Scheduler: GET /v1/maintenance serves Status, POST
// /v1/maintenance/{job}/run calls Trigger, whose errors wrap
// maintenance.ErrUnknownJob, ErrRunning or ErrStopped.
type Maintenance interface {
	Status() maintenance.Status
	Trigger(job string) error
}

// runStarted is the answer to POST /v1/maintenance/{job}/run.
type runStarted struct {
	Job string `json:"job"`
	// Status is where the run's progress and result are seen.
	Status string `json:"status"`
}

// statusPath is GET /v1/maintenance's path, the Location of a started run.
const statusPath = "/v1/maintenance"

// maintenanceStatus serves the scheduler's jobs, schedules and last runs.
func (h *handler) maintenanceStatus(w http.ResponseWriter, _ *http.Request) {
	if h.maint == nil {
		noScheduler(w)
		return
	}
	writeJSON(w, http.StatusOK, h.maint.Status())
}

// maintenanceRun starts a run of a job now: 202 once started, 404 for a
// job that does not exist, 409 while one is going.
func (h *handler) maintenanceRun(w http.ResponseWriter, r *http.Request) {
	if h.maint == nil {
		noScheduler(w)
		return
	}
	name := r.PathValue("job")
	err := h.maint.Trigger(name)
	switch {
	case err == nil:
		h.o.Log.Info("maintenance run requested over HTTP", "job", name)
		w.Header().Set("Location", statusPath)
		writeJSON(w, http.StatusAccepted, runStarted{Job: name, Status: statusPath})
	case errors.Is(err, maintenance.ErrUnknownJob):
		writeError(w, http.StatusNotFound, apiError{Code: "42704", Message: err.Error()})
	case errors.Is(err, maintenance.ErrRunning):
		writeError(w, http.StatusConflict, apiError{Code: "55006", Message: err.Error() + ": wait for it to finish (GET " + statusPath + ")"})
	case errors.Is(err, maintenance.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, apiError{Code: "57P01", Message: err.Error() + ": the daemon is shutting down"})
	default:
		writeError(w, http.StatusInternalServerError, apiError{Code: "XX000", Message: err.Error()})
	}
}

func noScheduler(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, apiError{Code: "55000",
		Message: "this process runs no scheduled maintenance: `pgsurreal serve` runs it when verify.schedule or backup.schedule is set"})
}

// maintenanceOf returns m, or nil for none, including a nil
// *maintenance.Scheduler in a non-nil interface.
func maintenanceOf(m Maintenance) Maintenance {
	if s, ok := m.(*maintenance.Scheduler); ok && s == nil {
		return nil
	}
	return m
}

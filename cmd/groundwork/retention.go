package main

import (
	"context"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/jobs"
)

// retentionBy is who the incident removals of retention.incidents name.
const retentionBy = "retention"

// retentionWorker forgets webhook deliveries past
// retention.webhook_deliveries and, when retention.incidents is set,
// deletes the incidents resolved longer ago; River's leader runs it every
// hour.
func (a *app) retentionWorker() *jobs.RetentionWorker {
	return &jobs.RetentionWorker{
		PruneDeliveriesFunc: a.store.PruneDeliveries,
		Deliveries:          a.cfg.Retention.WebhookDeliveries.Duration,
		DeleteIncidentsFunc: func(ctx context.Context, cutoff time.Time, limit int) (int, error) {
			rms, err := a.deliveries.DeleteIncidentsResolvedBefore(ctx, cutoff, retentionBy, limit)
			return len(rms), err
		},
		Incidents: a.cfg.Retention.Incidents.Duration,
		Logger:    a.log.Named("retention"),
	}
}

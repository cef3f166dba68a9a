package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/collectors/jobs"
)

// retentionBy is who the incident removals of retention.incidents name.
const retentionBy = "retention"

// addRetentionWorker adds the retention worker to workers and returns its
// periodic job: River's leader forgets webhook deliveries past
// retention.webhook_deliveries and, when retention.incidents is set,
// deletes the incidents resolved longer ago, every hour.
func (a *app) addRetentionWorker(workers *river.Workers) *river.PeriodicJob {
	river.AddWorker(workers, &jobs.RetentionWorker{
		PruneDeliveriesFunc: a.store.PruneDeliveries,
		Deliveries:          a.cfg.Retention.WebhookDeliveries.Duration,
		DeleteIncidentsFunc: func(ctx context.Context, cutoff time.Time, limit int) (int, error) {
			rms, err := a.deliveries.DeleteIncidentsResolvedBefore(ctx, cutoff, retentionBy, limit)
			return len(rms), err
		},
		Incidents: a.cfg.Retention.Incidents.Duration,
		Logger:    a.log.Named("retention"),
	})
	return jobs.PeriodicRetention(jobs.DefaultRetentionEvery)
}

// wireDeletion lets the API delete incidents, cancelling their queued
// collections through River.
func (a *app) wireDeletion(client *river.Client[pgx.Tx]) {
	a.deliveries.CancelJobTxFunc = func(ctx context.Context, tx pgx.Tx, jobID int64) error {
		_, err := client.JobCancelTx(ctx, tx, jobID)
		return err
	}
	a.api.Deleter = a.deliveries
}

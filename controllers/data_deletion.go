package controllers

import (
	"context"
	"errors"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// An organization's data is deleted a part at a time, and a deletion called again goes on where
// the last stopped (store.DeleteOrganization). A finalizer deleting a large organization's data
// (tens of millions of audit rows) held its reconcile worker until the end: one tenant deleting
// four integrations with deletionPolicy Delete held every ScimIntegration worker, and every other
// tenant's token issuance, rotations and revocations waited, for minutes to hours. Here one
// reconcile pass at a time deletes, for at most deletionPassBudget, and a pass that did not
// finish comes back after deletionRetry, its worker free meanwhile.

// errDeletionUnderWay says a finalizer's data deletion is not finished: the pass is requeued.
var errDeletionUnderWay = errors.New("the organization's data is being deleted")

// deletionPassBudget is how long one pass deletes (a variable for tests); deletionRetry when the
// next comes.
var deletionPassBudget = 5 * time.Second

const deletionRetry = time.Second

// deletionTurn is held by the one reconcile pass deleting data, of either controller.
var deletionTurn = make(chan struct{}, 1)

// deleteOrganizationData deletes org's data for at most deletionPassBudget, and only while no
// other pass deletes: errDeletionUnderWay when it did not finish.
func deleteOrganizationData(ctx context.Context, data interface {
	DeleteOrganization(context.Context, string, store.Binding) error
}, org string, b store.Binding) error {
	select {
	case deletionTurn <- struct{}{}:
	default:
		return errDeletionUnderWay
	}
	defer func() { <-deletionTurn }()
	pass, cancel := context.WithTimeout(ctx, deletionPassBudget)
	defer cancel()
	err := data.DeleteOrganization(pass, org, b)
	if err != nil && ctx.Err() == nil && pass.Err() != nil {
		return errDeletionUnderWay // the budget ran out: the next pass goes on from here
	}
	return err
}

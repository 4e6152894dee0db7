package sqlstore

// Fencing: a batch commits only while its run still holds the
// single-runner lock. The heartbeat notices a lost lock only at its next
// beat (seconds later); a batch that checks the lock inside its own
// transaction, just before COMMIT, stops before it commits instead, so a
// run whose lock was taken over by another never writes beside it.

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
)

// fence is a lock of this store that a batch's transaction can check.
type fence interface {
	store.Unlocker
	// holds checks, inside tx, that the lock is still this run's: nil, or
	// an error matching store.ErrLockLost (any other error is the check's
	// own failure, a driver error).
	holds(ctx context.Context, tx *sqlx.Tx) error
}

var (
	_ fence = (*pgUnlocker)(nil)
	_ fence = (*sessionLock)(nil)
	_ fence = (*leaseHolder)(nil)
	_ fence = (*fileUnlocker)(nil)
	_ fence = noUnlock{}
)

// errForeignLock: a batch was given a lock that this store's Lock did not
// return, which it cannot check.
var errForeignLock = errors.New("the batch's Lock was not taken by this store's Lock")

// fenceOf returns the batch's lock as a fence (nil for an unfenced batch),
// failing at once if the lock is already known lost.
func fenceOf(lock store.Unlocker) (fence, error) {
	if lock == nil {
		return nil, nil
	}
	f, ok := lock.(fence)
	if !ok {
		return nil, fmt.Errorf("%w (a %T)", errForeignLock, lock)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// commitFenced commits tx if f (nil: no fence) still holds, checked in tx
// as its last statement; otherwise tx is rolled back (by the caller's
// deferred Rollback) and the error says why.
func commitFenced(ctx context.Context, tx *sqlx.Tx, f fence) error {
	if f != nil {
		if err := f.holds(ctx, tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

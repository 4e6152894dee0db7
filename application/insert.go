package application

// Inserting the application when the connection may fail: a lost answer
// leaves the outcome unknown (the row may have been committed), so the
// row is looked for before the insert is tried again.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// insertTries bounds the database calls (inserts, and the reads that
// settle a failed one) while the database fails transiently (a dropped
// connection, a restarting server), with a pause of insertBackoff,
// doubling up to maxInsertBackoff, before each call after the first.
const (
	insertTries      = 8
	insertBackoff    = 250 * time.Millisecond
	maxInsertBackoff = 2 * time.Second
)

// ErrOutcomeUnknown: the database failed while the application was being
// inserted and kept failing, so whether the row was written is unknown;
// look for the client_id before trying again (or try again with
// IfNotExists, which takes the row if it is there).
var ErrOutcomeUnknown = errors.New("whether the application was written is unknown")

// insert writes the row once. After a transient failure it reads the
// client_id's row: the row it wrote (the stored secret, salted at random,
// is its own) means the insert committed and only the answer was lost;
// no row means it did not, and the insert is tried again; another row is
// a concurrent writer's (store.ErrDuplicateClientID). The unique
// client_id keeps it to one row whatever happens.
func insert(ctx context.Context, s store.Store, p store.InsertApplicationParams) (int64, error) {
	pause := insertBackoff
	wait := func() error {
		err := sleep(ctx, pause)
		pause = min(pause*2, maxInsertBackoff)
		return err
	}
	unknown := false // an insert may have committed unseen since the last read
	var last error
	for try := 1; try <= insertTries; try++ {
		if try > 1 {
			if err := wait(); err != nil {
				last = err
				break
			}
		}
		if !unknown {
			id, err := s.InsertApplication(ctx, p)
			switch {
			case err == nil:
				return id, nil
			case errors.Is(err, store.ErrDuplicateClientID):
				return ownRow(ctx, s, p, err)
			case !errors.Is(err, store.ErrTransient):
				return 0, err
			}
			last, unknown = err, !neverSent(err)
			continue
		}
		row, err := s.GetApplication(ctx, store.GetApplicationParams{ClientID: p.Application.ClientID})
		switch {
		case err != nil && errors.Is(err, store.ErrTransient):
			last = err // the database is not back yet
		case err != nil:
			return 0, err
		case row != nil && row.ClientSecret == p.Application.ClientSecret:
			return row.ID, nil // committed; only its answer was lost
		case row != nil:
			return 0, fmt.Errorf("another writer's row has client_id %q: %w", p.Application.ClientID, store.ErrDuplicateClientID)
		default:
			unknown = false // not written: insert again
		}
	}
	if unknown {
		return 0, fmt.Errorf("client_id %q: %w (the database failed %d times; look for it before trying again): %w", p.Application.ClientID, ErrOutcomeUnknown, insertTries, last)
	}
	return 0, fmt.Errorf("no application was written (the database failed %d times): %w", insertTries, last)
}

// ownRow settles a duplicate client_id: the row may be this insert's
// own, written by an attempt whose answer was lost (database/sql itself
// retries a statement on a new connection when the driver calls the old
// one bad, and the retry then meets the first attempt's row).
func ownRow(ctx context.Context, s store.Store, p store.InsertApplicationParams, dup error) (int64, error) {
	row, err := s.GetApplication(ctx, store.GetApplicationParams{ClientID: p.Application.ClientID})
	if err == nil && row != nil && row.ClientSecret == p.Application.ClientSecret {
		return row.ID, nil
	}
	return 0, dup
}

// neverSent reports a failure to connect: the statement never reached
// the server, so it wrote nothing.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

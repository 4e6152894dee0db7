package cleanup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

func TestLockSkipAndWait(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		e.Grant(t, T.Add(-time.Hour))
		held, err := e.Store.Lock(ctx, store.LockParams{Name: cleanup.LockName})
		require.NoError(t, err)

		_, err = cleanup.Clear(ctx, cleanup.Options{Store: e.Store, Now: T})
		assert.True(t, errors.Is(err, cleanup.ErrLocked))
		assert.True(t, errors.Is(err, store.ErrLocked))
		assert.Len(t, e.IDs(t, "grant"), 1, "a skipped run deletes nothing")

		done := make(chan error, 1)
		go func() {
			_, err := cleanup.Clear(ctx, cleanup.Options{Store: e.Store, Now: T, Lock: cleanup.LockWait})
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		assert.Len(t, e.IDs(t, "grant"), 1, "a waiting run has not started")
		require.NoError(t, held.Unlock())
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("the waiting run never ran")
		}
		assert.Empty(t, e.IDs(t, "grant"))

		// Cancelling the wait is an interruption, not an error of the database.
		held, err = e.Store.Lock(ctx, store.LockParams{Name: cleanup.LockName})
		require.NoError(t, err)
		defer held.Unlock()
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = cleanup.Clear(short, cleanup.Options{Store: e.Store, Now: T, Lock: cleanup.LockWait})
		assert.True(t, errors.Is(err, cleanup.ErrInterrupted), "%v", err)
	})
}

// A batch held up by a row lock past the statement timeout is rolled back
// and retried, and the run finishes once the lock goes.
func TestStatementTimeoutIsRetried(t *testing.T) {
	e := sqlstoretest.New(t, "postgres", sqlstoretest.DOT341)
	for i := 0; i < 5; i++ {
		e.Grant(t, T.Add(-time.Hour))
	}
	blocker := e.DB.MustBegin()
	_, err := blocker.Exec(`SELECT id FROM oauth2_provider_grant FOR UPDATE`)
	require.NoError(t, err)
	go func() {
		time.Sleep(700 * time.Millisecond)
		blocker.Rollback() //nolint:errcheck
	}()
	rep, err := cleanup.Clear(context.Background(), cleanup.Options{Store: e.Store, Now: T, Rules: cleanup.RulesDOT33,
		StatementTimeout: 200 * time.Millisecond, RetryBackoff: 50 * time.Millisecond, Retries: 20})
	require.NoError(t, err)
	grants := stepNamed(t, rep, cleanup.StepExpiredGrant)
	assert.EqualValues(t, 5, grants.Deleted)
	assert.GreaterOrEqual(t, grants.Retries, 1)
	assert.Empty(t, e.IDs(t, "grant"))
}

// Anything that is not transient stops the run at once, with the report.
func TestPermanentErrorStops(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		for i := 0; i < 4; i++ {
			e.Grant(t, T.Add(-time.Hour))
		}
		dropped := false
		rep, err := cleanup.Clear(context.Background(), cleanup.Options{Store: e.Store, Now: T, BatchSize: 2, Rules: cleanup.RulesDOT33,
			RetryBackoff: time.Millisecond,
			OnBatch: func(ev cleanup.BatchEvent) {
				if ev.Step == cleanup.StepExpiredGrant && !dropped {
					dropped = true
					e.Exec(t, `ALTER TABLE oauth2_provider_grant RENAME TO gone`)
				}
			}})
		require.Error(t, err)
		assert.False(t, errors.Is(err, store.ErrTransient), "%v", err)
		assert.Contains(t, err.Error(), "oauth2_provider_grant")
		grants := rep.Steps[len(rep.Steps)-1]
		assert.Equal(t, cleanup.StepExpiredGrant, grants.Name)
		assert.EqualValues(t, 2, grants.Deleted)
		assert.Zero(t, grants.Retries)
	})
}

// stepNamed is the report of one step.
func stepNamed(t *testing.T, rep cleanup.Report, name string) cleanup.StepReport {
	t.Helper()
	for _, st := range rep.Steps {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no step %s in the report", name)
	return cleanup.StepReport{}
}

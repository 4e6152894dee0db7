package cleanup_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// RunEvery cleans what expires between ticks, carries on after a failed
// run, and stops with its context.
func TestRunEvery(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var runs []error
	done := make(chan error, 1)
	go func() {
		done <- cleanup.RunEvery(ctx, cleanup.MinInterval, cleanup.Options{Store: e.Store}, func(_ cleanup.Report, err error) {
			mu.Lock()
			runs = append(runs, err)
			mu.Unlock()
		})
	}()
	waitRuns := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(runs) >= n }, 30*time.Second, 10*time.Millisecond)
	}
	waitRuns(1)
	e.Grant(t, time.Now().Add(-time.Minute))
	require.Eventually(t, func() bool { return len(e.IDs(t, "grant")) == 0 }, 30*time.Second, 10*time.Millisecond, "a later tick cleans it")

	// A run that fails (the table is gone) is reported, and the next tick tries again.
	e.Exec(t, `ALTER TABLE oauth2_provider_grant RENAME TO grant_away`)
	mu.Lock()
	failedFrom := len(runs)
	mu.Unlock()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, err := range runs[failedFrom:] {
			if err != nil {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	e.Exec(t, `ALTER TABLE grant_away RENAME TO oauth2_provider_grant`)
	e.Grant(t, time.Now().Add(-time.Minute))
	require.Eventually(t, func() bool { return len(e.IDs(t, "grant")) == 0 }, 30*time.Second, 10*time.Millisecond, "it recovers")

	cancel()
	select {
	case err := <-done:
		assert.True(t, errors.Is(err, context.Canceled))
	case <-time.After(10 * time.Second):
		t.Fatal("RunEvery did not stop")
	}
}

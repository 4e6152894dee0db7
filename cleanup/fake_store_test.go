package cleanup_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/oauthkit/oauthkit/store"
)

// fakeStore is a store.Store whose methods are fields, for testing
// cleanup's own control flow (retries, budgets, cancellation, workers)
// without a database. A nil field does the least a real store would:
// nothing to delete, a free lock, a writable database of DOT 3.4.1.
type fakeStore struct {
	DeleteBatchFunc           func(ctx context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error)
	PartitionFunc             func(ctx context.Context, p store.PartitionParams) ([]store.Range, error)
	CountMatchesFunc          func(ctx context.Context, p store.CountMatchesParams) (int64, error)
	LockFunc                  func(ctx context.Context, p store.LockParams) (store.Unlocker, error)
	CheckWritableFunc         func(ctx context.Context) error
	PruneCIMDApplicationsFunc func(ctx context.Context, p store.PruneCIMDApplicationsParams) (store.PruneCIMDResult, error)
	store.Store               // the rest: a call panics, which fails the test
}

var _ store.Store = (*fakeStore)(nil)

func (f *fakeStore) DeleteBatch(ctx context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	if f.DeleteBatchFunc == nil {
		return store.DeleteBatchResult{Done: true}, nil
	}
	return f.DeleteBatchFunc(ctx, p)
}

func (f *fakeStore) Partition(ctx context.Context, p store.PartitionParams) ([]store.Range, error) {
	if f.PartitionFunc == nil {
		return []store.Range{{}}, nil
	}
	return f.PartitionFunc(ctx, p)
}

func (f *fakeStore) CountMatches(ctx context.Context, p store.CountMatchesParams) (int64, error) {
	if f.CountMatchesFunc == nil {
		return 0, nil
	}
	return f.CountMatchesFunc(ctx, p)
}

func (f *fakeStore) Lock(ctx context.Context, p store.LockParams) (store.Unlocker, error) {
	if f.LockFunc == nil {
		return &fakeLock{}, nil
	}
	return f.LockFunc(ctx, p)
}

func (f *fakeStore) CheckWritable(ctx context.Context) error {
	if f.CheckWritableFunc == nil {
		return nil
	}
	return f.CheckWritableFunc(ctx)
}

func (f *fakeStore) PruneCIMDApplications(ctx context.Context, p store.PruneCIMDApplicationsParams) (store.PruneCIMDResult, error) {
	if f.PruneCIMDApplicationsFunc == nil {
		return store.PruneCIMDResult{}, nil
	}
	return f.PruneCIMDApplicationsFunc(ctx, p)
}

func (f *fakeStore) HasTable(context.Context, store.HasTableParams) (bool, error) { return true, nil }
func (f *fakeStore) Replicas(context.Context) ([]store.Replica, error)            { return nil, nil }
func (f *fakeStore) AppliedMigrations(context.Context, store.AppliedMigrationsParams) (store.Migrations, error) {
	return store.Migrations{LedgerExists: true, Names: []string{"0022_refreshtoken_token_family_index"}}, nil
}

// fakeLock is a lock that is lost once lost is set.
type fakeLock struct {
	mu       sync.Mutex
	lost     bool
	released bool
}

func (l *fakeLock) Unlock() error { l.mu.Lock(); defer l.mu.Unlock(); l.released = true; return nil }
func (l *fakeLock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost {
		return store.ErrLockLost
	}
	return nil
}
func (l *fakeLock) lose() { l.mu.Lock(); l.lost = true; l.mu.Unlock() }

// transient is a failure a real store reports as worth retrying.
var transient = fmt.Errorf("deadlock detected: %w", store.ErrTransient)

// batches is a DeleteBatchFunc that deletes n rows per batch for the grant
// step, up to total, and finds nothing for the other steps; seen, when
// set, is called with each call's number (1, 2, …) for the grant step.
func batches(n, total int64, seen func(call int) error) func(context.Context, store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	var mu sync.Mutex
	var calls int
	var done int64
	return func(_ context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		if p.Target != store.GrantExpiredBefore {
			return store.DeleteBatchResult{Done: true}, nil
		}
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		if seen != nil {
			if err := seen(call); err != nil {
				return store.DeleteBatchResult{}, err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		k := min(n, total-done)
		done += k
		return store.DeleteBatchResult{Deleted: k, Next: store.Cursor(fmt.Sprint(done)), Done: done == total}, nil
	}
}

var errPermanent = errors.New("permission denied for table oauth2_provider_grant")

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/oauthkit/oauthkit/store"
)

// The SQLite single-runner lock is a lock on one byte of the database
// file itself, far beyond the bytes SQLite locks, so it adds no file beside
// the user's database and needs no folder of its own. On Linux it is an
// open file description (OFD) lock, one byte per lock key; elsewhere on
// Unix an flock of the whole file, so there two different locks on one
// database exclude each other too. Either goes away with the process.
//
// Closing any descriptor of a file drops the POSIX locks the process holds
// on it, SQLite's own among them. So the descriptors opened for locking
// stay open until the Store is closed (after its connections, for a Store
// that Open made), and an unlocked one is kept for the next lock.
type fileLocks struct {
	mu   sync.Mutex
	free []*os.File
	all  []*os.File
}

// lockOffset is where the byte of key lies: past 2^46, far from the lock
// bytes SQLite uses (around 2^30), and never written.
func lockOffset(key string) int64 {
	return 1<<46 + int64(lockHash(key)%(1<<30))
}

// errHeld is what tryLock returns when another holder has the lock.
var errHeld = errors.New("lock is held")

func (d sqliteDialect) lock(ctx context.Context, s *Store, key string, p store.LockParams) (store.Unlocker, error) {
	var seq int
	var name, file string
	if err := s.db.QueryRowxContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return nil, err
	}
	if file == "" {
		return noUnlock{}, nil // in-memory or temporary: no other process can see it
	}
	f, err := d.locks.take(file)
	if err != nil {
		return nil, fmt.Errorf("open the database file for the single-runner lock: %w: %w", store.ErrLockUnavailable, err)
	}
	off := lockOffset(key)
	u, err := pollLock(ctx, p.Wait, 100*time.Millisecond, func() (store.Unlocker, error) {
		switch err := tryLock(f, off); {
		case err == nil:
			return &fileUnlocker{locks: d.locks, f: f, off: off}, nil
		case errors.Is(err, errHeld):
			return nil, store.ErrLocked
		default:
			return nil, fmt.Errorf("lock the database file: %w: %w", store.ErrLockUnavailable, err)
		}
	})
	if err != nil {
		d.locks.give(f)
	}
	return u, err
}

// take returns a descriptor of the database file to lock on: a free one,
// or a new open file description (each lock needs its own, or two takers
// in this process would not exclude each other).
func (l *fileLocks) take(path string) (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		f := l.free[n-1]
		l.free = l.free[:n-1]
		return f, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	// Never create, never follow a link planted after the check above.
	f, err := os.OpenFile(real, os.O_RDWR|noFollow, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", real)
	}
	l.all = append(l.all, f)
	return f, nil
}

func (l *fileLocks) give(f *os.File) {
	l.mu.Lock()
	l.free = append(l.free, f)
	l.mu.Unlock()
}

// close closes every descriptor; call it only once the database
// connections are closed.
func (l *fileLocks) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.all {
		f.Close()
	}
	l.all, l.free = nil, nil
}

type fileUnlocker struct {
	locks    *fileLocks
	f        *os.File
	off      int64
	released atomic.Bool
}

func (u *fileUnlocker) Unlock() error {
	if u.released.Swap(true) {
		return nil
	}
	err := unlock(u.f, u.off)
	u.locks.give(u.f)
	return err
}

// Err: a lock on a file descriptor of this process cannot be lost while
// the process lives; it is gone only once Unlock gave it back.
func (u *fileUnlocker) Err() error {
	if u.released.Load() {
		return fmt.Errorf("%w: it was released", store.ErrLockLost)
	}
	return nil
}

// holds: the lock belongs to this process, and no other can take it
// away; only this run's own Unlock ends it.
func (u *fileUnlocker) holds(context.Context, *sqlx.Tx) error { return u.Err() }

type noUnlock struct{}

func (noUnlock) Unlock() error { return nil }
func (noUnlock) Err() error    { return nil }

// holds: an in-memory database is this process's alone.
func (noUnlock) holds(context.Context, *sqlx.Tx) error { return nil }

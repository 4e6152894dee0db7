package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// Lock takes the single-runner lock, keyed by its name, the table set and
// what the dialect says tells table sets apart in one server.
func (s *Store) Lock(ctx context.Context, p store.LockParams) (store.Unlocker, error) {
	var parts []string
	for _, nt := range s.tables.Named() {
		if nt.Role == store.RolePAR && !s.namedPAR {
			// Left out at its default, so that the key is the one earlier
			// versions took (they knew no such table): an upgraded cleaner
			// and one not yet upgraded still exclude each other.
			continue
		}
		parts = append(parts, nt.Role+"="+nt.Name)
	}
	key := "oauthkit:" + p.Name + ":" + strings.Join(parts, ",")
	scope, err := s.d.lockScope(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("lock %s in %s: %w", p.Name, s.display, s.fail(err))
	}
	if scope != "" {
		key += "@" + scope
	}
	u, err := s.d.lock(ctx, s, key, p)
	switch {
	case errors.Is(err, store.ErrLocked):
		return nil, fmt.Errorf("%s in %s: %w", p.Name, s.display, err)
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("wait for lock %s in %s: %w", p.Name, s.display, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("lock %s in %s: %w", p.Name, s.display, s.fail(err))
	}
	return u, nil
}

// lockHash is the one hash of a lock key, from which each database makes
// its lock's name: PostgreSQL's advisory lock id, MySQL's GET_LOCK name,
// the byte of a SQLite file. FNV-64a: stable across versions, so runs of
// different oauthkit versions take the same lock.
func lockHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// errTryAgain: an attempt to take a lock neither got it nor found it held
// (a Galera commit that lost certification to another taker); poll again
// whether the caller waits or not.
var errTryAgain = errors.New("try the lock again")

// pollLock calls try until it takes the lock. try returns store.ErrLocked
// while another holds it: then pollLock returns that at once, or, with
// wait, tries again every interval until ctx ends. Waiting polls rather
// than blocks, so that cancellation ends it and (through a transaction
// pooler) a waiter holds no server connection the holder needs.
func pollLock(ctx context.Context, wait bool, every time.Duration, try func() (store.Unlocker, error)) (store.Unlocker, error) {
	for {
		u, err := try()
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, errTryAgain), errors.Is(err, store.ErrLocked) && wait:
		default:
			return nil, err
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

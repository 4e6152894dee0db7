package sqlstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// lock flocks a file beside the database, which excludes other processes
// on the same machine (the only ones that can write the file).
func (sqliteDialect) lock(ctx context.Context, s *Store, key string, p store.LockParams) (store.Unlocker, error) {
	var seq int
	var name, file string
	if err := s.db.QueryRowxContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return nil, err
	}
	if file == "" {
		return noUnlock{}, nil // in-memory or temporary: no other process can see it
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	path := fmt.Sprintf("%s.oauthkit-%s-%08x.lock", file, p.Name, h.Sum32())
	for {
		u, err := flockFile(path)
		if err == nil {
			return u, nil
		}
		if err != errWouldBlock {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !p.Wait {
			return nil, fmt.Errorf("%s: %w", path, store.ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type noUnlock struct{}

func (noUnlock) Unlock() error { return nil }

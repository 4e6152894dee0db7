package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// lockKey names the lock: its purpose and the tables it guards. On
// PostgreSQL the current schema is part of it, so that the same table
// names in two schemas are two table sets.
func (s *Store) lockKey(ctx context.Context, name string) (string, error) {
	var parts []string
	for _, nt := range s.tables.Named() {
		parts = append(parts, nt.Role+"="+nt.Name)
	}
	key := "oauthkit:" + name + ":" + strings.Join(parts, ",")
	if s.dialect == DialectPostgres {
		var schema sql.NullString
		if err := s.db.GetContext(ctx, &schema, `SELECT current_database() || '.' || current_schema()`); err != nil {
			return "", fmt.Errorf("lock %s in %s: %w", name, s.display, classify(err))
		}
		key += "@" + schema.String
	}
	return key, nil
}

// Lock takes the single-runner lock.
func (s *Store) Lock(ctx context.Context, p store.LockParams) (store.Unlocker, error) {
	key, err := s.lockKey(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	if s.dialect == DialectPostgres {
		return s.pgLock(ctx, key, p)
	}
	return s.sqliteLock(ctx, key, p)
}

// pgLock holds a session-level advisory lock on a connection of its own:
// the server releases it if this process dies, so a killed cleaner never
// leaves the lock behind.
func (s *Store) pgLock(ctx context.Context, key string, p store.LockParams) (store.Unlocker, error) {
	h := fnv.New64a()
	h.Write([]byte(key))
	id := int64(h.Sum64())
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s in %s: %w", p.Name, s.display, classify(err))
	}
	if p.Wait {
		_, err = conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, id)
	} else {
		var got bool
		if err = conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&got); err == nil && !got {
			conn.Close()
			return nil, fmt.Errorf("%s in %s: %w", p.Name, s.display, store.ErrLocked)
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %s in %s: %w", p.Name, s.display, classify(err))
	}
	return pgUnlocker{conn: conn, id: id}, nil
}

type pgUnlocker struct {
	conn *sql.Conn
	id   int64
}

func (u pgUnlocker) Unlock() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := u.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, u.id)
	// Closing the connection ends the session, which releases the lock even
	// if the unlock statement failed.
	if cerr := u.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// sqliteLock flocks a file beside the database, which excludes other
// processes on the same machine (the only ones that can write the file).
func (s *Store) sqliteLock(ctx context.Context, key string, p store.LockParams) (store.Unlocker, error) {
	var seq int
	var name, file string
	if err := s.db.QueryRowxContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return nil, fmt.Errorf("lock %s in %s: %w", p.Name, s.display, classify(err))
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
			return nil, fmt.Errorf("lock %s: %s: %w", p.Name, path, err)
		}
		if !p.Wait {
			return nil, fmt.Errorf("%s in %s (%s): %w", p.Name, s.display, path, store.ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for lock %s: %w", p.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type noUnlock struct{}

func (noUnlock) Unlock() error { return nil }

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
)

// DefaultLockLease is how long a lease lock is held without renewal: a
// killed holder blocks the next run for at most this long.
const DefaultLockLease = 30 * time.Second

// galeraState remembers, per store, whether the server is a Galera node.
type galeraState struct {
	node  serverFact[bool]
	lease time.Duration
	force bool // WithLeaseLock: lease even off Galera
}

// isGalera reads wsrep_on: MariaDB has the variable with or without a
// Galera provider; MySQL has none, which means no.
func (d mysqlDialect) isGalera(ctx context.Context, s *Store) (bool, error) {
	on, err := d.galera.node.get(func() (bool, error) {
		var on sql.NullString
		err := s.db.GetContext(ctx, &on, `SELECT @@wsrep_on`)
		switch {
		case mysqlErrorIs(err, 1193): // unknown system variable
			return false, nil
		case err != nil:
			return false, err
		}
		return on.String == "1" || on.String == "ON", nil
	})
	return on || d.galera.force, err
}

// leaseLock is the single-runner lock of a Galera cluster. GET_LOCK is
// per node there (a session on node 1 and one on node 2 both get the same
// lock), so the lock is a row of oauthkit's lease table: taken and renewed
// in replicated transactions (two nodes taking it at once: one commit
// fails certification and, retried, finds the other's lease), and
// expiring on its own when its holder stops renewing (a killed run blocks
// the next one for at most the lease). Times are the servers' UTC.
func (d mysqlDialect) leaseLock(ctx context.Context, s *Store, key string, p store.LockParams) (store.Unlocker, error) {
	if ok, err := s.tableExists(ctx, s.tables.Lock); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("on a Galera cluster the single-runner lock is a lease in table %q, which does not exist (Store.Migrate creates it; Tables.Lock names another): %w: %w",
			s.tables.Lock, store.ErrLockUnavailable, store.ErrMissingTable)
	}
	lease := d.galera.lease
	holder := holderID()
	name := lockName(key)
	tbl := s.q(roleLock)
	micros := lease.Microseconds()
	return pollLock(ctx, p.Wait, 250*time.Millisecond, func() (store.Unlocker, error) {
		got, err := tryLease(ctx, s, tbl, name, holder, micros)
		switch {
		case err != nil && errors.Is(s.fail(err), store.ErrTransient):
			return nil, errTryAgain // lost certification to a concurrent taker
		case err != nil:
			return nil, err
		case !got:
			return nil, store.ErrLocked
		}
		u := &leaseHolder{s: s, tbl: tbl, name: name, holder: holder, micros: micros, lastGood: time.Now()}
		u.start(lease/3, 10*time.Second, u.renew)
		return u, nil
	})
}

// tryLease takes the lease in one transaction: a new row, or the row of a
// lease that expired (or is already ours).
func tryLease(ctx context.Context, s *Store, tbl, name, holder string, micros int64) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Read what the cluster has committed, not only what this node has applied.
	if _, err := tx.ExecContext(ctx, `SET SESSION wsrep_sync_wait = 1`); err != nil {
		if !mysqlErrorIs(err, 1193) { // no such variable: not Galera (WithLeaseLock)
			return false, err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT IGNORE INTO `+tbl+` (name, holder, expires) VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)`, name, holder, micros)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 0 {
		res, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET holder = ?, expires = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND
WHERE name = ? AND (expires < UTC_TIMESTAMP(6) OR holder = ?)`, holder, micros, name, holder)
		if err != nil {
			return false, err
		}
		if n, err = res.RowsAffected(); err != nil {
			return false, err
		}
	}
	if n == 0 {
		return false, nil
	}
	// Only a commit that certifies holds the lease: on Galera a taker on
	// another node may have won (ERROR 1213).
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

func holderID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // never fails
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	if len(id) > 190 {
		id = id[len(id)-190:]
	}
	return id
}

type leaseHolder struct {
	heartbeat
	s                 *Store
	tbl, name, holder string
	micros            int64
	lastGood          time.Time
}

// renew extends the lease while it is held; a renewal that finds the lease
// gone (taken over after it expired), or failures for longer than the
// lease, mark the lock lost.
func (u *leaseHolder) renew(ctx context.Context) error {
	res, err := u.s.db.ExecContext(ctx, `UPDATE `+u.tbl+` SET expires = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE name = ? AND holder = ?`, u.micros, u.name, u.holder)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	switch {
	case err == nil && n == 1:
		u.lastGood = time.Now()
		return nil
	case err == nil:
		return fmt.Errorf("%w: its lease was taken over", store.ErrLockLost)
	case time.Since(u.lastGood) > time.Duration(u.micros)*time.Microsecond:
		return fmt.Errorf("%w: its lease could not be renewed: %w", store.ErrLockLost, err)
	}
	return nil // try again at the next beat
}

// holds renews the lease inside the batch's transaction, if it is still
// ours and unexpired. The batch then writes the lease row: on Galera a
// peer that takes the lease over meanwhile conflicts with the batch at
// certification, so only one of the two commits (the batch, if it loses,
// fails with a deadlock error and, tried again, finds the lease gone).
func (u *leaseHolder) holds(ctx context.Context, tx *sqlx.Tx) error {
	res, err := tx.ExecContext(ctx, `UPDATE `+u.tbl+` SET expires = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND
WHERE name = ? AND holder = ? AND expires > UTC_TIMESTAMP(6)`, u.micros, u.name, u.holder)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("%w: its lease expired or was taken over; the batch was rolled back", store.ErrLockLost)
	}
	return nil
}

// Unlock deletes the lease row (if it is still ours).
func (u *leaseHolder) Unlock() error {
	if !u.end() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := u.s.db.ExecContext(ctx, `DELETE FROM `+u.tbl+` WHERE name = ? AND holder = ?`, u.name, u.holder)
	return err
}

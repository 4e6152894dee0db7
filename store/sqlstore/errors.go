package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
	"modernc.org/sqlite"

	"github.com/oauthkit/oauthkit/store"
)

// transientError marks err as store.ErrTransient while keeping it matchable.
type transientError struct{ err error }

func (e transientError) Error() string   { return e.err.Error() }
func (e transientError) Unwrap() []error { return []error{store.ErrTransient, e.err} }

// classify wraps errors worth retrying in store.ErrTransient.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrTransient) || !isTransient(err) {
		return err
	}
	return transientError{err}
}

func isTransient(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		code := string(pqErr.Code)
		switch {
		case code == "40001", code == "40P01": // serialization failure, deadlock
			return true
		case code == "55P03", code == "57014": // lock not available, statement timeout / cancelled
			return true
		case strings.HasPrefix(code, "08"): // connection exception
			return true
		case code == "57P01", code == "57P02", code == "57P03": // admin shutdown, crash shutdown, cannot connect now
			return true
		}
		return false
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

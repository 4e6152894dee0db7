package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/oauthkit/oauthkit/store"
)

// transientError marks err as store.ErrTransient while keeping it matchable.
type transientError struct{ err error }

func (e transientError) Error() string   { return e.err.Error() }
func (e transientError) Unwrap() []error { return []error{store.ErrTransient, e.err} }

// missingTableError marks err as store.ErrMissingTable.
type missingTableError struct{ err error }

func (e missingTableError) Error() string   { return e.err.Error() }
func (e missingTableError) Unwrap() []error { return []error{store.ErrMissingTable, e.err} }

// classify wraps errors worth retrying in store.ErrTransient (what the
// dialect says of its driver's errors, and the network failures every
// driver shares), and a table that does not exist in store.ErrMissingTable.
func classify(d dialect, err error) error {
	// A lost lock is never worth retrying, whatever network failure lost it.
	if err == nil || errors.Is(err, store.ErrTransient) || errors.Is(err, store.ErrMissingTable) || errors.Is(err, store.ErrLockLost) {
		return err
	}
	if d.isTransient(err) || isNetworkFailure(err) {
		return transientError{err}
	}
	if d.isMissingTable(err) {
		return missingTableError{err}
	}
	return err
}

func isNetworkFailure(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// scrubbedError hides the credentials of the store's URL in a driver
// error's text (a driver may echo the data source it was given), while
// keeping the error matchable with errors.Is and errors.As.
type scrubbedError struct {
	err     error
	secrets []string
}

func (e scrubbedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	return msg
}
func (e scrubbedError) Unwrap() error { return e.err }

// HidesCauses tells a printer of error chains (--traceback) not to print
// the wrapped errors' own text, which holds what this one hides.
func (e scrubbedError) HidesCauses() bool { return true }

// fail is a driver error as the store reports it: classified (transient,
// missing table) and scrubbed of the URL's credentials.
//
// A lost connection also empties the pool of idle connections (of a
// handle the store opened itself; one given to New keeps its caller's
// pool): they were opened to the same server, which has likely closed
// them all (a restart, a failover), and a retry on one of them would fail
// again for nothing, using up the retries before a new connection could
// say what is really wrong (the server refuses, say).
func (s *Store) fail(err error) error {
	if err != nil && s.ownsDB && isConnectionLost(s.d, err) {
		s.db.SetMaxIdleConns(-1) // closes every idle connection
		s.db.SetMaxIdleConns(defaultMaxIdle)
	}
	return s.scrub(classify(s.d, err))
}

// defaultMaxIdle is database/sql's own default.
const defaultMaxIdle = 2

// isConnectionLost reports an error that ended its connection: the
// network's, or the server's own word that it ended the session.
func isConnectionLost(d dialect, err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && !netErr.Timeout() {
		return true
	}
	return d.isConnectionLost(err)
}

// scrub hides the store's credentials in err's text, if it holds any.
func (s *Store) scrub(err error) error { return scrubSecrets(err, s.source.secrets) }

func scrubSecrets(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(msg, sec) {
			return scrubbedError{err, secrets}
		}
	}
	return err
}

// redactedError keeps a driver error matchable (errors.Is / As) while
// printing only what cannot hold a value of the row: PostgreSQL's detail
// ("Failing row contains (…)") would show the client secret, so only its
// message and code are kept.
type redactedError struct {
	err error
	msg string
}

func (r redactedError) Error() string { return r.msg }
func (r redactedError) Unwrap() error { return r.err }

// HidesCauses: see scrubbedError.
func (r redactedError) HidesCauses() bool { return true }

// redact is err with only what the dialect says is safe to print.
func (s *Store) redact(err error) error {
	if msg, ok := s.d.safeMessage(err); ok {
		return redactedError{err, msg}
	}
	return redactedError{err, "database error (detail withheld: it may hold the client secret)"}
}

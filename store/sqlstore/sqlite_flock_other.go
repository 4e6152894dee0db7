//go:build !unix

package sqlstore

import "errors"

var errWouldBlock = errors.New("lock is held")

type fileUnlocker struct{}

func (fileUnlocker) Unlock() error { return nil }

func flockFile(string) (fileUnlocker, error) {
	return fileUnlocker{}, errors.New("the single-runner lock for SQLite needs a Unix system")
}

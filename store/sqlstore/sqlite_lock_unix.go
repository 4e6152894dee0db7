//go:build unix && !linux

package sqlstore

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// tryLock flocks the whole file (independent of SQLite's POSIX locks),
// without waiting.
func tryLock(f *os.File, _ int64) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errHeld
	}
	return err
}

func unlock(f *os.File, _ int64) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

const noFollow = syscall.O_NOFOLLOW

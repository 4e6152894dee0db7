//go:build unix

package sqlstore

import (
	"errors"
	"os"
	"syscall"
)

var errWouldBlock = errors.New("lock is held")

type fileUnlocker struct{ f *os.File }

func (u fileUnlocker) Unlock() error {
	err := syscall.Flock(int(u.f.Fd()), syscall.LOCK_UN)
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// flockFile takes an exclusive flock without waiting. The kernel drops it
// when the process dies.
func flockFile(path string) (fileUnlocker, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fileUnlocker{}, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fileUnlocker{}, errWouldBlock
		}
		return fileUnlocker{}, err
	}
	return fileUnlocker{f}, nil
}

//go:build unix

package metrics

import (
	"os"
	"syscall"
)

// openRegular opens path for reading only if it is a regular file, without
// following a link and without blocking (on a FIFO put there meanwhile).
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, ErrNotRegular
	}
	return f, nil
}

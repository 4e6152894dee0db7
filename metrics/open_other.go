//go:build !unix

package metrics

import "os"

// openRegular opens path for reading only if it is a regular file.
func openRegular(path string) (*os.File, error) {
	if info, err := os.Lstat(path); err != nil || !info.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	return os.Open(path)
}

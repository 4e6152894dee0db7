// Package atomicfile replaces a file so that no reader ever sees half of
// it: the content goes to a temporary file in the same folder, which is
// then renamed over the old one. Only a regular file is replaced.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotRegular: the path names something other than a regular file (a
// device, a FIFO, a folder, a link), which is refused, not replaced.
var ErrNotRegular = errors.New("not a regular file")

// Write replaces path with content. The new file keeps the old one's
// permissions (never wider), or gets mode when there was none.
func Write(path string, content []byte, mode os.FileMode) error {
	if info, err := os.Lstat(path); err == nil {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: %w (%s): not replaced", path, ErrNotRegular, info.Mode().Type())
		}
		mode = info.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

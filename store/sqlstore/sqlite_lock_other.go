//go:build !unix

package sqlstore

import (
	"errors"
	"os"
)

var errNoLock = errors.New("the single-runner lock for SQLite needs a Unix system")

func tryLock(*os.File, int64) error { return errNoLock }
func unlock(*os.File, int64) error  { return nil }

const noFollow = 0

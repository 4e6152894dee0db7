package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A fresh test database takes writes.
func testCheckWritable(t *testing.T, e Harness) {
	require.NoError(t, e.Store().CheckWritable(context.Background()))
}

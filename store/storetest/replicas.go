package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A test database has no standby attached. (A real standby is tested
// where one can be started: sqlstore's command tests.)
func testReplicas(t *testing.T, e Harness) {
	reps, err := e.Store().Replicas(context.Background())
	require.NoError(t, err)
	assert.Empty(t, reps)
}

// Package storetest is the conformance suite every store.Store
// implementation runs. It imports nothing of oauthkit but package store:
// an implementation supplies a Harness (a fresh database holding the
// tables of a real django-oauth-toolkit deployment, with ways to seed and
// inspect rows), and Run drives the Store through it. Package
// store/sqlstore/sqlstoretest is the harness of oauthkit's own stores.
package storetest

import (
	"testing"
	"time"
)

// Run runs the suite on every DOT layout.
func Run(t *testing.T, open Opener) {
	for _, l := range Layouts {
		t.Run("dot-"+string(l), func(t *testing.T) {
			t.Parallel()
			// A test (or a few) per Store method, each in its file.
			for name, fn := range map[string]func(*testing.T, Harness){
				"CheckSchema":                   testCheckSchema,
				"CheckWritable":                 testCheckWritable,
				"Migrate":                       testMigrate,
				"DeleteBatch/Targets":           testTargets,
				"DeleteBatch/SetNullOnRefresh":  testSetNull,
				"DeleteBatch/SetNullInSome":     testSetNullInSomeBatches,
				"DeleteBatch/BatchesAreBounded": testBatches,
				"DeleteBatch/BatchesFillUp":     testBatchesFill,
				"DeleteBatch/HugeMax":           testHugeMax,
				"Partition":                     testPartition,
				"CountMatches":                  testCountMatches,
				"CountMatches/Earlier":          testCountMatchesEarlier,
				"HasTable":                      testHasTable,
				"AppliedMigrations":             testMigrations,
				"ApplicationColumns":            testApplicationColumns,
				"GetApplication":                testGetApplication,
				"UserExists":                    testUserExists,
				"InsertApplication":             testInsertApplication,
				"PruneCIMDApplications/Cascade": testCIMDCascade,
				"PruneCIMDApplications/Order":   testCIMDBatchOrder,
				"Replicas":                      testReplicas,
				"Lock":                          testLock,
				"Lock/Fence":                    testFence,
				"Close":                         testClose,
			} {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, open(t, l))
				})
			}
		})
	}
}

// cutoff has no fraction, so SQLite's text form has none either, and the
// rows around it test the text comparison Django relies on.
var cutoff = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

const us = time.Microsecond

var far = cutoff.Add(24 * time.Hour)

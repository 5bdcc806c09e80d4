package firestore_test

import (
	"context"
	"os"
	"testing"

	"omtx/jobs"
	"omtx/jobs/firestore"
	"omtx/jobs/firestore/firestoretest"
	"omtx/jobs/storetest"
)

// fairBatchSize is the big batch of the fairness test. The property it
// checks (a big batch delays another user's job by at most one lease per
// worker) holds or fails whatever the size, as long as the batch outlasts
// the test's leases; what the size adds on Firestore is the chunked
// submit. 2,000 children take five chunks, more than the parallel chunk
// writers, and fill every progress shard, in about 3 s on the emulator;
// 10,000 pass too but take 9 s of a package test that should stay short.
const fairBatchSize = 2000

// TestMain runs the tests against the emulator at FIRESTORE_EMULATOR_HOST,
// or else against one it starts on a free port (and stops after), or else
// skips them, except on CI (CI=true), where a missing emulator fails.
func TestMain(m *testing.M) {
	os.Exit(firestoretest.Main(m))
}

// openStore opens a store in a project of its own, so that tests share
// the emulator without seeing each other's records (the emulator's
// queries also slow down as one project fills up).
func openStore(t *testing.T, clock jobs.Clock) *firestore.Store {
	t.Helper()
	firestoretest.Require(t)
	s, err := firestore.Open(context.Background(), firestore.TestProject(t), jobs.Config{Clock: clock}, firestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c jobs.Clock) jobs.Store { return openStore(t, c) },
		storetest.Options{FairBatchSize: fairBatchSize})
}

package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"omtx/jobs"
	"omtx/jobs/sqlite"
	"omtx/jobs/storetest"
)

func openStore(t testing.TB, clock jobs.Clock) jobs.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jobs.db"), jobs.Config{Clock: clock}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c jobs.Clock) jobs.Store { return openStore(t, c) }, storetest.Options{})
}

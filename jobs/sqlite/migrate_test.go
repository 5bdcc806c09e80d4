package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"omtx/jobs"
	"omtx/jobs/sqlite"
)

// A database made before the per-user cap learns its users' running jobs
// when migrated, so that the cap holds at once.
func TestMigrateCountsRunning(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	schema, err := os.ReadFile("migrations/0001_jobs.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(schema),
		`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES ('0001_jobs', 0)`,
		`INSERT INTO jobs (id, user_id, type, model, status, attempt, max_attempts, lease_owner, lease_expires_at, created_at, updated_at)
			VALUES ('old', 'alice', 'INDIVIDUAL', 'vina', 'running', 1, 3, 'w', ` + "9223372036854775807" + `, 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := sqlite.Open(ctx, path, jobs.Config{}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Submit(ctx, jobs.Submission{UserID: "alice", Model: "vina", MaxRunning: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = s.JobLease(ctx, jobs.LeaseParams{Owner: "w2", Models: []string{"vina"}, TTL: time.Minute})
	if !jobs.IsCode(err, jobs.ErrNoWork) {
		t.Fatalf("lease beyond the cap after migrating: %v", err)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Users != 1 || st.Queued != 1 {
		t.Fatalf("stats: %+v, %v", st, err)
	}
}

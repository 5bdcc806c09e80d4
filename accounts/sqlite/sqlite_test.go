package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"omtx/accounts"
	"omtx/accounts/accountstest"
	"omtx/accounts/sqlite"
	"omtx/jobs"
	"omtx/jobs/jobstest"
	jobsqlite "omtx/jobs/sqlite"
)

func openAt(t testing.TB, path string, clock jobs.Clock) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, accounts.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	accountstest.Run(t, func(t *testing.T, clock jobs.Clock) accounts.Store {
		return openAt(t, filepath.Join(t.TempDir(), "omtx.db"), clock)
	})
}

// Only hashes of credentials reach the disk.
func TestCredentialsHashed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "omtx.db")
	s := openAt(t, path, jobstest.NewClock(accountstest.Start))
	u, token, err := s.UserCreate(ctx, accounts.NewUser{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.TokenCreate(ctx, u.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	secret, sess, err := s.SessionCreate(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}

	var raw []byte
	for _, name := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	for _, cred := range []string{token, second, secret} {
		if bytes.Contains(raw, []byte(cred)) {
			t.Fatalf("the database holds the credential %q", cred)
		}
		// The random part alone is not there either.
		if _, body, _ := bytes.Cut([]byte(cred), []byte("_")); bytes.Contains(raw, body) {
			t.Fatalf("the database holds the random part of %q", cred)
		}
		if !bytes.Contains(raw, []byte(accounts.HashSecret(cred))) {
			t.Fatalf("the database lacks the hash of %q", cred)
		}
	}
	if !bytes.Contains(raw, []byte(sess.CSRF)) {
		t.Fatal("the database lacks the session's CSRF token")
	}

	// And the hashes are what the tables hold.
	s = openAt(t, path, jobs.SystemClock{})
	defer s.Close()
	got, err := s.UserByToken(ctx, token)
	if err != nil || got.ID != u.ID {
		t.Fatalf("reopened store: token of %v, %v", got, err)
	}
}

// The job store and the accounts store share one file.
func TestSharedFileWithJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "omtx.db")
	clock := jobstest.NewClock(accountstest.Start)
	js, err := jobsqlite.Open(ctx, path, jobs.Config{Clock: clock}, jobsqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	as := openAt(t, path, clock)
	defer as.Close()

	u, token, err := as.UserCreate(ctx, accounts.NewUser{Name: "alice", Tier: accounts.TierPremium})
	if err != nil {
		t.Fatal(err)
	}
	j, err := js.Submit(ctx, jobs.Submission{UserID: u.ID, Model: "vina", ModelVersion: "1", Name: "single",
		Input: []byte(`{"smiles":"CCO"}`)})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := as.UserByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.JobGet(ctx, owner.ID, j.ID); err != nil {
		t.Fatalf("the token's owner cannot see the job: %v", err)
	}

	// Opening both again (in the other order) migrates nothing twice.
	as.Close()
	js.Close()
	as = openAt(t, path, clock)
	defer as.Close()
	js, err = jobsqlite.Open(ctx, path, jobs.Config{Clock: clock}, jobsqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	if _, err := as.UserByName(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.JobGet(ctx, u.ID, j.ID); err != nil {
		t.Fatal(err)
	}
}

// Two stores opened on one file at once (two processes, say) both migrate
// safely.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "omtx.db")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := sqlite.Open(context.Background(), path, accounts.Config{})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

package results

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"omtx/jobs"
)

// backend opens a fresh, empty Store of one kind.
type backend struct {
	name string
	open func(t testing.TB) *Store
}

var backends = []backend{
	{"file", func(t testing.TB) *Store {
		s, err := Open(context.Background(), "file://"+filepath.ToSlash(t.TempDir())+"/bucket")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"gcs", openFakeGCS},
	{"mem", func(t testing.TB) *Store {
		s, err := Open(context.Background(), "mem://")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// newFakeGCS starts an in-process fake-gcs-server on 127.0.0.1 holding an
// empty bucket "results", and a real storage client of it.
func newFakeGCS(t testing.TB) (*fakestorage.Server, *storage.Client) {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: 0,
		// Without it the client's uploads work but its reads, which go to
		// the public host, answer "object doesn't exist".
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "results"})
	client, err := storage.NewClient(context.Background(),
		option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return srv, client
}

// openFakeGCS opens the bucket of a fresh fake-gcs-server through OpenGCS,
// as production opens Cloud Storage, with no signing credentials.
func openFakeGCS(t testing.TB) *Store {
	_, client := newFakeGCS(t)
	s, err := OpenGCS(context.Background(), "results", client, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachBackend runs f against every backend, in parallel.
func eachBackend(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.open(t))
		})
	}
}

func get(t testing.TB, s *Store, key string) []byte {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func put(t testing.TB, s *Store, key, content string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(content), ""); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func TestPutGetList(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
		put(t, s, "batches/b1/jobs/j1/logs.txt", "line 1\n")
		put(t, s, "batches/b1/jobs/j2/logs.txt", "other\n")
		put(t, s, "jobs/j3/structure.cif", "data_x\n")
		if err := s.PutJSON(ctx, "jobs/j3/results.json", map[string]any{"b": 2, "a": []int{1}}); err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(t.TempDir(), "poses.sdf")
		if err := os.WriteFile(local, []byte("mol\n$$$$\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.PutFile(ctx, "jobs/j3/poses.sdf", local); err != nil {
			t.Fatal(err)
		}
		// Rewriting replaces the whole object.
		put(t, s, "batches/b1/jobs/j1/logs.txt", "line 1\nline 2\n")

		for key, want := range map[string]string{
			"batches/b1/jobs/j1/logs.txt": "line 1\nline 2\n",
			"jobs/j3/results.json":        "{\n  \"a\": [\n    1\n  ],\n  \"b\": 2\n}\n",
			"jobs/j3/poses.sdf":           "mol\n$$$$\n",
		} {
			if got := string(get(t, s, key)); got != want {
				t.Errorf("get %s = %q, want %q", key, got, want)
			}
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"batches/b1/", []string{"batches/b1/jobs/j1/logs.txt", "batches/b1/jobs/j2/logs.txt"}},
			{"jobs/j3/", []string{"jobs/j3/poses.sdf", "jobs/j3/results.json", "jobs/j3/structure.cif"}},
			{"jobs/nope/", nil},
			{"", []string{"batches/b1/jobs/j1/logs.txt", "batches/b1/jobs/j2/logs.txt", "jobs/j3/poses.sdf", "jobs/j3/results.json", "jobs/j3/structure.cif"}},
		} {
			got, err := s.List(ctx, tc.prefix)
			if err != nil {
				t.Fatalf("list %q: %v", tc.prefix, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("list %q = %q, want %q", tc.prefix, got, tc.want)
			}
		}
	})
}

func TestGetNotFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		_, err := s.Get(context.Background(), "jobs/missing/results.json")
		var je *jobs.Error
		if !errors.As(err, &je) || je.Code != jobs.ErrNotFound {
			t.Fatalf("get missing: err = %v, want *jobs.Error with code %s", err, jobs.ErrNotFound)
		}
	})
}

// failingReader yields n bytes of 'x', then fails, or (with cancel set)
// cancels the write's context once more than cancelAt bytes are read (after
// the first chunk when cancelAt is 0) and ends normally.
type failingReader struct {
	n, sent  int
	cancel   context.CancelFunc
	cancelAt int
}

var errSource = errors.New("source broke")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.sent >= r.n {
		if r.cancel != nil {
			return 0, io.EOF
		}
		return 0, errSource
	}
	if r.sent > r.cancelAt && r.cancel != nil {
		r.cancel()
	}
	k := min(len(p), r.n-r.sent, 32<<10)
	for i := range k {
		p[i] = 'x'
	}
	r.sent += k
	return k, nil
}

// gcsChunk is the storage client's default upload chunk: a write larger
// than it starts a resumable upload and sends data before Close.
const gcsChunk = 16 << 20

func TestAbortedWriteLeavesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		for _, tc := range []struct {
			name     string
			cancel   bool   // cancel the context part way instead of failing the reader
			cancelAt int    // with cancel: bytes read before cancelling
			before   bool   // cancel the context before the write starts
			size     int    // bytes the reader yields before it ends; 1 MiB when 0
			existing string // content written before the aborted write; "" for none
		}{
			{name: "reader fails, new object"},
			{name: "reader fails, old version kept", existing: "old version\n"},
			{name: "context cancelled, new object", cancel: true},
			{name: "context cancelled, old version kept", cancel: true, existing: "old version\n"},
			{name: "context cancelled before writing", before: true},
			// Past the first chunk the GCS upload has already sent 16 MiB
			// to a resumable session; the object must still not appear.
			{name: "reader fails past the first upload chunk", size: gcsChunk + 1<<20},
			{name: "context cancelled past the first upload chunk", cancel: true, cancelAt: gcsChunk + 512<<10, size: gcsChunk + 1<<20},
		} {
			t.Run(tc.name, func(t *testing.T) {
				key := "jobs/" + strings.ReplaceAll(tc.name, " ", "_") + "/structure.cif"
				key = strings.ReplaceAll(key, ",", "")
				if tc.existing != "" {
					put(t, s, key, tc.existing)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				r := &failingReader{n: cmp.Or(tc.size, 1<<20)}
				if tc.cancel {
					r.cancel, r.cancelAt = cancel, tc.cancelAt
				}
				if tc.before {
					cancel()
				}
				if err := s.Put(ctx, key, r, "chemical/x-mmcif"); err == nil {
					t.Fatal("aborted put succeeded")
				}
				if r.sent <= tc.cancelAt {
					t.Fatalf("the write took only %d bytes, want more than %d before the abort", r.sent, tc.cancelAt)
				}
				if tc.existing != "" {
					if got := string(get(t, s, key)); got != tc.existing {
						t.Fatalf("after aborted put: got %d bytes, want the old version", len(got))
					}
					return
				}
				if _, err := s.Get(context.Background(), key); !jobs.IsCode(err, jobs.ErrNotFound) {
					t.Fatalf("after aborted put: get err = %v, want not found", err)
				}
				dir := key[:strings.LastIndex(key, "/")+1]
				if keys, err := s.List(context.Background(), dir); err != nil || len(keys) != 0 {
					t.Fatalf("after aborted put: list = %q, %v; want nothing", keys, err)
				}
			})
		}
	})
}

func TestConcurrentReadersSeeWholeVersions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		const key, size, writes = "batches/b/jobs/j/structure.cif", 1 << 20, 12
		versions := [][]byte{
			bytes.Repeat([]byte("a"), size),
			bytes.Repeat([]byte("bb"), size/2+1000), // a different length too
			bytes.Repeat([]byte("c"), size-5000),
		}
		ctx := context.Background()
		if err := s.Put(ctx, key, bytes.NewReader(versions[0]), ""); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var writers, readers sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 2 {
			writers.Go(func() {
				for i := range writes {
					v := versions[(w+i)%len(versions)]
					if err := s.Put(ctx, key, bytes.NewReader(v), ""); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var reads sync.Map
		for rd := range 3 {
			readers.Go(func() {
				n := 0
				defer func() { reads.Store(rd, n) }()
				for {
					select {
					case <-done:
						if n > 0 {
							return
						}
					default:
					}
					r, err := s.Get(ctx, key)
					if err != nil {
						errs <- err
						return
					}
					data, err := io.ReadAll(r)
					r.Close()
					if err != nil {
						errs <- err
						return
					}
					n++
					if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, data) }) {
						errs <- errors.New("read a partial or mixed object of " + strconv.Itoa(len(data)) + " bytes")
						return
					}
				}
			})
		}
		writers.Wait()
		close(done)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		total := 0
		reads.Range(func(_, n any) bool { total += n.(int); return true })
		t.Logf("%d whole reads during %d rewrites", total, 2*writes)
	})
}

func TestPathTraversalRejected(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		put(t, s, "batches/b/jobs/j/results.json", "{}\n")
		child := func(id string) []*jobs.Job { return []*jobs.Job{{ID: id, Status: jobs.StatusCompleted}} }
		batch := func(id string) *jobs.Batch { return &jobs.Batch{Job: jobs.Job{ID: id}} }
		long := strings.Repeat("a", MaxIDLen+1)
		for _, tc := range []struct {
			name  string
			field string
			call  func() error
		}{
			{"put dotdot", "key", func() error { return s.Put(ctx, "../outside.txt", strings.NewReader("x"), "") }},
			{"put inner dotdot", "key", func() error { return s.Put(ctx, "jobs/../../x", strings.NewReader("x"), "") }},
			{"put absolute", "key", func() error { return s.Put(ctx, "/etc/passwd", strings.NewReader("x"), "") }},
			{"put empty segment", "key", func() error { return s.Put(ctx, "jobs//x", strings.NewReader("x"), "") }},
			{"put backslash", "key", func() error { return s.Put(ctx, `jobs\..\x`, strings.NewReader("x"), "") }},
			{"put control char", "key", func() error { return s.Put(ctx, "jobs/a\x00b", strings.NewReader("x"), "") }},
			{"put json dot", "key", func() error { return s.PutJSON(ctx, "jobs/./x", 1) }},
			{"put file", "key", func() error { return s.PutFile(ctx, "../x", "/etc/hostname") }},
			{"get dotdot", "key", func() error { _, err := s.Get(ctx, "batches/b/jobs/j/../../../x"); return err }},
			{"list dotdot", "prefix", func() error { _, err := s.List(ctx, "../"); return err }},
			{"copy from bad batch", "batch_id", func() error { return s.CopyJob(ctx, "..", "j", "b", "k") }},
			{"copy to bad job", "job_id", func() error { return s.CopyJob(ctx, "b", "j", "b", "../../k") }},
			{"copy long id", "job_id", func() error { return s.CopyJob(ctx, "b", "j", "", long) }},
			{"job key slash", "job_id", func() error { _, err := JobKey("b", "a/b", "x"); return err }},
			{"job key name", "name", func() error { _, err := JobKey("b", "j", ".."); return err }},
			{"zip bad batch", "batch_id", func() error { return s.WriteZip(ctx, io.Discard, "../b", child("j"), []string{"results.json"}) }},
			{"zip bad name", "name", func() error { return s.WriteZip(ctx, io.Discard, "b", child("j"), []string{"../x"}) }},
			{"zip bad child", "job_id", func() error { return s.WriteZip(ctx, io.Discard, "b", child(".."), []string{"results.json"}) }},
			{"finalize bad batch", "batch_id", func() error { _, err := s.Finalize(ctx, FinalizeInput{Batch: batch("a/../b")}); return err }},
			{"finalize bad child", "job_id", func() error {
				_, err := s.Finalize(ctx, FinalizeInput{Batch: batch("b"), Children: child("../../etc")})
				return err
			}},
			{"start bad child", "job_id", func() error {
				return s.WriteBatchStart(ctx, &batch("b").Job, child("x\ny"), BatchMetadata{})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				var je *jobs.Error
				if !errors.As(err, &je) || je.Code != jobs.ErrInvalid || je.Field != tc.field {
					t.Fatalf("err = %#v, want jobs.ErrInvalid on field %q", err, tc.field)
				}
			})
		}
		// Nothing was written outside what the test put.
		keys, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{"batches/b/jobs/j/results.json"}) {
			t.Fatalf("bucket holds %q", keys)
		}
	})
}

func TestCopyJob(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		files := map[string]string{
			"results.json":  "{\"affinity\": -9.1}\n",
			"metadata.json": "{\"job_id\": \"j1\"}\n",
			"structure.cif": "data_complex\n",
		}
		for name, content := range files {
			put(t, s, "batches/b1/jobs/j1/"+name, content)
		}
		put(t, s, "batches/b1/jobs/j10/logs.txt", "a sibling whose ID shares the prefix\n")
		for _, tc := range []struct{ toBatch, toJob string }{
			{"b2", "j7"}, // into another batch
			{"", "solo"}, // into an individual job
		} {
			if err := s.CopyJob(ctx, "b1", "j1", tc.toBatch, tc.toJob); err != nil {
				t.Fatalf("copy to %s/%s: %v", tc.toBatch, tc.toJob, err)
			}
			dir := JobDir(tc.toBatch, tc.toJob) + "/"
			keys, err := s.List(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{dir + "metadata.json", dir + "results.json", dir + "structure.cif"}
			if !slices.Equal(keys, want) {
				t.Fatalf("copied keys = %q, want %q", keys, want)
			}
			for name, content := range files {
				if got := string(get(t, s, dir+name)); got != content {
					t.Errorf("%s%s = %q, want %q", dir, name, got, content)
				}
			}
		}
		// Copying again (a re-run) gives the same result.
		if err := s.CopyJob(ctx, "b1", "j1", "b2", "j7"); err != nil {
			t.Fatal(err)
		}
		// A job with no files copies nothing.
		if err := s.CopyJob(ctx, "b1", "empty", "b2", "e"); err != nil {
			t.Fatal(err)
		}
		if keys, _ := s.List(ctx, "batches/b2/jobs/e/"); len(keys) != 0 {
			t.Fatalf("empty copy wrote %q", keys)
		}
	})
}

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new", "data")
	s, err := Open(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "jobs/j/logs.txt", "hi\n")
	// The folder holds exactly the hierarchy: no sidecar or temporary files.
	var found []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if !slices.Equal(found, []string{"jobs/j/logs.txt"}) {
		t.Fatalf("files on disk = %q", found)
	}
	for _, bad := range []string{"s3://bucket", "file://relative/dir", "::"} {
		if _, err := Open(ctx, bad); !jobs.IsCode(err, jobs.ErrInvalid) {
			t.Errorf("Open(%q) err = %v, want invalid", bad, err)
		}
	}
}

// TestSweepTemp: the temporary files of writes a killed process left in a
// file:// folder are deleted once old; younger ones (a write in flight in
// another process) and the hierarchy stay.
func TestSweepTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "batches/b/jobs/j/results.json", "{}")
	now := time.Now()
	stale := filepath.Join(dir, "batches/b/jobs/j/structure.cif."+strconv.FormatInt(now.UnixNano(), 16)+".tmp")
	fresh := filepath.Join(dir, "batches/b/jobs/j/poses.sdf."+strconv.FormatInt(now.UnixNano()+1, 16)+".tmp")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("half a file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, now.Add(-2*time.Hour), now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepTemp(ctx, now.Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want 1", n, err)
	}
	for f, want := range map[string]bool{stale: false, fresh: true, filepath.Join(dir, "batches/b/jobs/j/results.json"): true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", f, err == nil, want)
		}
	}
	// Buckets without temporary files are left alone.
	mem, err := Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	put(t, mem, "jobs/j/x.0123abcd.tmp", "a name alike")
	if n, err := mem.SweepTemp(ctx, now.Add(time.Hour)); n != 0 || err != nil {
		t.Fatalf("mem:// swept %d, %v", n, err)
	}
}

func TestDeletePrefix(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		put(t, s, "batches/b1/batch_index.json", "{}\n")
		put(t, s, "batches/b1/jobs/j1/results.json", "{}\n")
		put(t, s, "batches/b1/results/batch_results.csv", "index\n")
		put(t, s, "batches/b10/batch_index.json", "a sibling whose ID shares the prefix\n")
		put(t, s, "archive/b1/batch_metadata.json", "{}\n")
		for _, p := range []string{"batches/b1/", "archive/b1/"} {
			if err := s.DeletePrefix(ctx, p); err != nil {
				t.Fatalf("delete %s: %v", p, err)
			}
		}
		keys, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"batches/b10/batch_index.json"}; !slices.Equal(keys, want) {
			t.Fatalf("left %q, want %q", keys, want)
		}
		// Deleting again, or a folder that never existed, is not an error.
		if err := s.DeletePrefix(ctx, "batches/b1/"); err != nil {
			t.Fatalf("delete again: %v", err)
		}
		for _, bad := range []string{"", "/", "batches/b1", "../x/", "batches/../"} {
			if err := s.DeletePrefix(ctx, bad); !jobs.IsCode(err, jobs.ErrInvalid) {
				t.Errorf("delete %q: %v, want invalid", bad, err)
			}
		}
		if keys, _ := s.List(ctx, ""); len(keys) != 1 {
			t.Fatalf("refused deletes removed objects: %q", keys)
		}
	})
}

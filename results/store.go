package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"

	"omtx/jobs"
)

// Store reads and writes the result hierarchy in one bucket. Every write
// is atomic: a reader sees the old object or the whole new one, never part
// of one, and a failed or cancelled write leaves no object behind (and an
// older version, if any, untouched).
type Store struct {
	b *blob.Bucket
	// signEndpoint, when set, is the scheme and host that signed URLs
	// point at instead of https://storage.googleapis.com (an emulator).
	signEndpoint *url.URL
	// client is a storage client the Store made for itself, closed by
	// Close; nil when the bucket's client belongs to someone else.
	client *storage.Client
	// local is set for a file:// folder, whose interrupted writes leave
	// temporary files behind.
	local bool
}

// NewStore wraps an open bucket. The Store owns it: Close closes it.
func NewStore(b *blob.Bucket) *Store { return &Store{b: b} }

// Open opens the bucket at bucketURL:
//
//	file:///abs/dir   a local folder, created if missing
//	gs://bucket       Google Cloud Storage, with default credentials, or the
//	                  emulator named by STORAGE_EMULATOR_HOST (see the
//	                  package comment)
//	mem://            in memory, for tests and demos
//
// On file:// objects are written to a temporary file next to their final
// name and renamed into place on close (so the folder may live on any
// mount), and no attribute sidecar files are written: the folder holds
// exactly the hierarchy.
//
// A gs:// URL names only a bucket (no folder inside it); it may carry
// gocloud's query parameters access_id and private_key_path, which choose
// the service account that signs URLs (see SignedURL).
func Open(ctx context.Context, bucketURL string) (*Store, error) {
	u, err := url.Parse(bucketURL)
	if err != nil {
		return nil, jobs.FieldError("blob_url", "is not a URL: %v", err)
	}
	var b *blob.Bucket
	switch u.Scheme {
	case "file":
		dir := filepath.FromSlash(u.Path)
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(dir) {
			return nil, jobs.FieldError("blob_url", "file URL must name an absolute folder, as file:///abs/dir")
		}
		b, err = fileblob.OpenBucket(dir, &fileblob.Options{
			CreateDir: true,
			NoTempDir: true,
			Metadata:  fileblob.MetadataDontWrite,
		})
	case "gs":
		if err := validateBucketName("blob_url", u.Host); err != nil {
			return nil, err
		}
		if strings.Trim(u.Path, "/") != "" || u.User != nil || u.Fragment != "" {
			return nil, jobs.FieldError("blob_url", "gs URL must name only a bucket, as gs://bucket")
		}
		s, err := openGS(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", u.Redacted(), err)
		}
		return s, nil
	case "mem":
		b = memblob.OpenBucket(nil)
	default:
		return nil, jobs.FieldError("blob_url", "scheme %q is not one of file, gs, mem", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u.Redacted(), err)
	}
	st := NewStore(b)
	st.local = u.Scheme == "file"
	return st, nil
}

// Close closes the bucket, and the storage client when the Store made it.
func (s *Store) Close() error {
	err := s.b.Close()
	if s.client != nil {
		err = errors.Join(err, s.client.Close())
	}
	return err
}

// Ping reports whether the bucket is reachable, by listing at most one
// object: on GCS one request, which needs storage.objects.list (any role
// that can read the results has it), not storage.buckets.get.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.b.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("ping bucket: %w", err)
	}
	if !ok {
		// GCS answers 403 and 404 alike here (gcsblob maps both to
		// NotFound), so the message cannot tell which.
		return errors.New("ping bucket: the bucket does not exist or may not be listed with these credentials")
	}
	return nil
}

// Put writes the object key from r. If r fails or ctx ends before r is
// drained, no object is written.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, contentType string) error {
	return s.write(ctx, key, contentType, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// PutJSON writes v as indented JSON with a trailing newline. The bytes are
// deterministic for the same v (struct fields in order, map keys sorted).
func (s *Store) PutJSON(ctx context.Context, key string, v any) error {
	data, err := marshalJSON(v)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return s.write(ctx, key, "application/json", func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// marshalJSON is the one JSON encoding of stored documents: two-space
// indent, HTML characters not escaped, trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

// PutFile writes the object key from the local file at localPath.
func (s *Store) PutFile(ctx context.Context, key, localPath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	defer f.Close()
	return s.Put(ctx, key, f, ContentType(key))
}

// ContentType is the content type of a file or object name, by its
// extension.
func ContentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "application/json"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".cif", ".mmcif":
		return "chemical/x-mmcif"
	case ".pdb", ".pdbqt":
		return "chemical/x-pdb"
	case ".sdf", ".mol":
		return "chemical/x-mdl-sdfile"
	case ".txt", ".log", ".smi", ".fasta", ".a3m", ".yaml":
		return "text/plain; charset=utf-8"
	case ".zip":
		return "application/zip"
	}
	return "application/octet-stream"
}

// write is the one way objects are written: fill writes the content; if it
// fails, the writer's context is cancelled before Close, which aborts the
// write on every driver (fileblob removes its temporary file, memblob and
// GCS never make the object visible).
func (s *Store) write(ctx context.Context, key, contentType string, fill func(io.Writer) error) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = ContentType(key)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := fill(w); err != nil {
		cancel()
		_ = w.Close()
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		cancel()
		_ = w.Close()
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Get opens the object key. A missing object answers a jobs.ErrNotFound
// error. The caller closes the reader.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, notFound(err, key)
	}
	return r, nil
}

// notFound turns a driver's not-found error into jobs.ErrNotFound and
// wraps any other.
func notFound(err error, key string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return jobs.Errorf(jobs.ErrNotFound, "file %s not found", key)
	}
	return fmt.Errorf("read %s: %w", key, err)
}

// tempName matches fileblob's in-flight temporary files ("name.<hex>.tmp"),
// which List hides.
var tempName = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// SweepTemp deletes the temporary files that writes cut short (a killed
// process) left in a file:// folder, when they were last written before
// cutoff: a write in flight keeps touching its file, so a cutoff well in
// the past spares other processes' writes. It answers how many it deleted;
// other buckets have no such files and it does nothing there.
func (s *Store) SweepTemp(ctx context.Context, cutoff time.Time) (int, error) {
	if !s.local {
		return 0, nil
	}
	n := 0
	it := s.b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("sweep temporary files: %w", err)
		}
		if obj.IsDir || !tempName.MatchString(obj.Key) || !obj.ModTime.Before(cutoff) {
			continue
		}
		if err := s.b.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return n, fmt.Errorf("sweep temporary file %s: %w", obj.Key, err)
		}
		n++
	}
}

// List returns the keys under prefix, sorted. An empty prefix lists the
// whole bucket.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	var keys []string
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if obj.IsDir || tempName.MatchString(obj.Key) {
			continue
		}
		keys = append(keys, obj.Key)
	}
	return keys, nil
}

// CopyJob copies every file of one job folder into another, for a job that
// reused the result of identical work. results.json and metadata.json are
// copied as they are. Each file is copied atomically; files already in the
// destination that the source lacks are left alone.
func (s *Store) CopyJob(ctx context.Context, fromBatch, fromJob, toBatch, toJob string) error {
	if err := validateJob(fromBatch, fromJob); err != nil {
		return err
	}
	if err := validateJob(toBatch, toJob); err != nil {
		return err
	}
	src, dst := JobDir(fromBatch, fromJob)+"/", JobDir(toBatch, toJob)+"/"
	keys, err := s.List(ctx, src)
	if err != nil {
		return err
	}
	for _, k := range keys {
		to := dst + strings.TrimPrefix(k, src)
		if err := ValidateKey(to); err != nil {
			return err
		}
		if err := s.b.Copy(ctx, to, k, nil); err != nil {
			return fmt.Errorf("copy %s to %s: %w", k, to, err)
		}
	}
	return nil
}

// Size returns the size of the object at key in bytes.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		return 0, notFound(err, key)
	}
	return a.Size, nil
}

// DeletePrefix removes every object under prefix, which must be a folder
// ("batches/{id}/"): a non-empty key ending in "/", so that no call can
// empty the whole bucket or a sibling whose name merely starts alike. It
// goes on past a failed delete and returns the errors joined; objects
// already gone are not an error.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if !strings.HasSuffix(prefix, "/") || strings.Trim(prefix, "/") == "" {
		return jobs.FieldError("prefix", "%q must name a folder, ending in \"/\"", prefix)
	}
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	var errs []error
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("list %s: %w", prefix, err))...)
		}
		if obj.IsDir {
			continue
		}
		if err := s.b.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			errs = append(errs, fmt.Errorf("delete %s: %w", obj.Key, err))
		}
	}
	return errors.Join(errs...)
}

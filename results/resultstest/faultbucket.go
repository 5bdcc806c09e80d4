// Package resultstest has test helpers for code that uses package
// results: a bucket that injects faults into another.
package resultstest

import (
	"context"
	"errors"
	"io"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"

	"omtx/jobs/jobstest"
)

// FaultBucket is a blob bucket driver over another bucket that injects
// faults (see jobstest.Faults) into its reads and writes: a read or write
// that fails before it starts, one that times out (its context ends; a
// write is aborted, a read stops part way), and a write that lands while
// its writer's Close reports an error. It counts the writes that really
// landed, by key, whatever their callers were told.
//
// Operations are named "blob.Write", "blob.Read", "blob.List",
// "blob.Attributes", "blob.Copy" and "blob.Delete" for Faults.
type FaultBucket struct {
	inner  *blob.Bucket
	faults *jobstest.Faults

	mu     sync.Mutex
	writes map[string]int
}

// NewFaultBucket wraps inner. Bucket returns the faulty bucket; closing
// it closes inner.
func NewFaultBucket(inner *blob.Bucket, f *jobstest.Faults) *FaultBucket {
	return &FaultBucket{inner: inner, faults: f, writes: map[string]int{}}
}

// Bucket returns a bucket over the faulty driver (a new one each call;
// all share the counts).
func (b *FaultBucket) Bucket() *blob.Bucket { return blob.NewBucket((*faultDriver)(b)) }

// Writes is how many writes of key landed.
func (b *FaultBucket) Writes(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes[key]
}

// faultDriver implements driver.Bucket on the inner bucket's public API.
type faultDriver FaultBucket

var _ driver.Bucket = (*faultDriver)(nil)

func (d *faultDriver) injected(op string) (jobstest.Fault, error) {
	k := d.faults.Next(op)
	if k == jobstest.Fail {
		return k, &jobstest.InjectedError{Op: op, Fault: k}
	}
	return k, nil
}

func (d *faultDriver) ErrorCode(err error) gcerrors.ErrorCode {
	if errors.Is(err, context.DeadlineExceeded) {
		return gcerrors.DeadlineExceeded
	}
	return gcerrors.Code(err)
}

func (d *faultDriver) As(any) bool                   { return false }
func (d *faultDriver) ErrorAs(err error, i any) bool { return errors.As(err, i) }
func (d *faultDriver) Close() error                  { return d.inner.Close() }

func (d *faultDriver) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	k, err := d.injected("blob.Attributes")
	if err != nil {
		return nil, err
	}
	a, err := d.inner.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	if k != jobstest.NoFault {
		return nil, &jobstest.InjectedError{Op: "blob.Attributes", Fault: k}
	}
	return &driver.Attributes{CacheControl: a.CacheControl, ContentDisposition: a.ContentDisposition, ContentEncoding: a.ContentEncoding,
		ContentLanguage: a.ContentLanguage, ContentType: a.ContentType, Metadata: a.Metadata, CreateTime: a.CreateTime,
		ModTime: a.ModTime, Size: a.Size, MD5: a.MD5, ETag: a.ETag}, nil
}

func (d *faultDriver) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	if opts.BeforeList != nil {
		if err := opts.BeforeList(func(any) bool { return false }); err != nil {
			return nil, err
		}
	}
	k, err := d.injected("blob.List")
	if err != nil {
		return nil, err
	}
	size := opts.PageSize
	if size <= 0 {
		size = 1000
	}
	objs, next, err := d.inner.ListPage(ctx, opts.PageToken, size, &blob.ListOptions{Prefix: opts.Prefix, Delimiter: opts.Delimiter})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if k != jobstest.NoFault {
		return nil, &jobstest.InjectedError{Op: "blob.List", Fault: k}
	}
	page := &driver.ListPage{NextPageToken: next}
	for _, o := range objs {
		page.Objects = append(page.Objects, &driver.ListObject{Key: o.Key, ModTime: o.ModTime, Size: o.Size, MD5: o.MD5, IsDir: o.IsDir})
	}
	return page, nil
}

func (d *faultDriver) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	k, err := d.injected("blob.Read")
	if err != nil {
		return nil, err
	}
	r, err := d.inner.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, err
	}
	return &faultReader{r: r, fault: k}, nil
}

// faultReader reads the object; under a fault it stops with an error
// after the first read, as a connection that broke part way.
type faultReader struct {
	r     *blob.Reader
	fault jobstest.Fault
	reads int
}

func (r *faultReader) Read(p []byte) (int, error) {
	if r.fault != jobstest.NoFault && r.reads > 0 {
		return 0, &jobstest.InjectedError{Op: "blob.Read", Fault: r.fault}
	}
	r.reads++
	if r.fault != jobstest.NoFault && len(p) > 1 {
		p = p[:len(p)/2]
	}
	n, err := r.r.Read(p)
	if err == io.EOF && r.fault != jobstest.NoFault {
		err = &jobstest.InjectedError{Op: "blob.Read", Fault: r.fault}
	}
	return n, err
}

func (r *faultReader) Close() error { return r.r.Close() }
func (r *faultReader) Attributes() *driver.ReaderAttributes {
	return &driver.ReaderAttributes{ContentType: r.r.ContentType(), ModTime: r.r.ModTime(), Size: r.r.Size()}
}
func (r *faultReader) As(any) bool { return false }

func (d *faultDriver) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	k, err := d.injected("blob.Write")
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := d.inner.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType, CacheControl: opts.CacheControl,
		ContentDisposition: opts.ContentDisposition, ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage,
		ContentMD5: opts.ContentMD5, Metadata: opts.Metadata})
	if err != nil {
		cancel()
		return nil, err
	}
	return &faultWriter{d: d, key: key, w: w, ctx: ctx, cancel: cancel, fault: k}, nil
}

// faultWriter writes the object. Under Timeout the write is aborted at
// Close (its context ends) and Close reports the timeout; under Lost the
// object lands and Close reports an error anyway.
type faultWriter struct {
	d      *faultDriver
	key    string
	w      *blob.Writer
	ctx    context.Context
	cancel context.CancelFunc
	fault  jobstest.Fault
}

func (w *faultWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *faultWriter) Close() error {
	defer w.cancel()
	if w.fault == jobstest.Timeout {
		w.cancel()
		_ = w.w.Close()
		return &jobstest.InjectedError{Op: "blob.Write", Fault: w.fault}
	}
	if w.ctx.Err() != nil {
		// The caller aborted the write: so does the inner one.
		w.cancel()
		_ = w.w.Close()
		return w.ctx.Err()
	}
	if err := w.w.Close(); err != nil {
		return err
	}
	w.d.mu.Lock()
	w.d.writes[w.key]++
	w.d.mu.Unlock()
	if w.fault == jobstest.Lost {
		return &jobstest.InjectedError{Op: "blob.Write", Fault: w.fault}
	}
	return nil
}

func (d *faultDriver) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	_, err := jobstest.Do(ctx, d.faults, "blob.Copy", func(ctx context.Context) (struct{}, error) {
		err := d.inner.Copy(ctx, dstKey, srcKey, nil)
		if err == nil {
			d.mu.Lock()
			d.writes[dstKey]++
			d.mu.Unlock()
		}
		return struct{}{}, err
	})
	return err
}

func (d *faultDriver) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	_, err := jobstest.Do(ctx, d.faults, "blob.Delete", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, d.inner.Delete(ctx, key)
	})
	return err
}

func (d *faultDriver) SignedURL(ctx context.Context, key string, opts *driver.SignedURLOptions) (string, error) {
	return d.inner.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: opts.Expiry, Method: opts.Method, ContentType: opts.ContentType})
}

package hub

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// storePage is how many children are read from the store at a time.
const storePage = 1000

// Batch list limits.
const (
	defaultListSize = 50
	maxListSize     = 500
	// maxQueryLen bounds a name search.
	maxQueryLen = 200
)

// eachChild calls fn with the batch's children in input order, a store
// page at a time, so that no caller needs to hold a large batch at once.
// Input order does not depend on status, so paging stays right while
// children change status.
func (s *Service) eachChild(ctx context.Context, userID, batchID string, fn func([]*jobs.Job) error) error {
	for off := 0; ; off += storePage {
		page, err := s.store.JobList(ctx, jobs.JobFilter{UserID: userID, BatchID: batchID, Offset: off, Limit: storePage})
		if err != nil {
			return fmt.Errorf("children of %s: %w", batchID, err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < storePage {
			return nil
		}
	}
}

// children lists all of a batch's children in input order.
func (s *Service) children(ctx context.Context, userID, batchID string, total int) ([]*jobs.Job, error) {
	all := make([]*jobs.Job, 0, total)
	err := s.eachChild(ctx, userID, batchID, func(page []*jobs.Job) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}

// batch reads one of the user's batches.
func (s *Service) batch(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	if userID == "" || batchID == "" || results.ValidateID("batch_id", batchID) != nil {
		return nil, batchNotFound()
	}
	b, err := s.store.BatchGet(ctx, userID, batchID)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return nil, batchNotFound()
	}
	return b, err
}

// Not-found errors say nothing of the id asked for, so that an answer
// never repeats another user's id back.
func batchNotFound() error { return &jobs.Error{Code: jobs.ErrNotFound, Message: "batch not found"} }
func jobNotFound() error   { return &jobs.Error{Code: jobs.ErrNotFound, Message: "job not found"} }

// cursor is the opaque paging token of the lists: the next offset, for the
// batch list the last batch shown (keyset paging, so that batches
// submitted meanwhile neither repeat nor hide rows), and a digest of the
// query it belongs to.
type cursor struct {
	Offset  int    `json:"o"`
	Query   string `json:"q"`
	After   int64  `json:"t,omitempty"` // creation time, Unix ns
	AfterID string `json:"i,omitempty"`
}

// queryDigest identifies a query's filters and sort, so that a cursor is
// not used with another.
func queryDigest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made for the query with digest.
func decodeCursor(token, digest string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	var c cursor
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Offset < 0 {
		return cursor{}, jobs.FieldError("cursor", "is not a cursor of this list")
	}
	if c.Query != digest {
		return cursor{}, jobs.FieldError("cursor", "belongs to another query: keep the filters and sort of the page it came from")
	}
	return c, nil
}

// maxPage bounds a page number: past it no list has rows, and the
// offset it asks for could overflow.
const maxPage = 1_000_000

// pageSize reads a requested page size: 0 (absent) is def, more than max
// is max, a negative size is the caller's mistake.
func pageSize(size, def, max int) (int, error) {
	switch {
	case size < 0:
		return 0, jobs.FieldError("page_size", "must be 1 or more, not %d", size)
	case size == 0:
		return def, nil
	case size > max:
		return max, nil
	}
	return size, nil
}

// pageOffset is the offset of a 1-based page of size rows (0, absent, is
// the first page). A negative page, or one past maxPage, is the caller's
// mistake.
func pageOffset(page, size int) (int, error) {
	if page < 0 || page > maxPage {
		return 0, jobs.FieldError("page", "must be between 1 and %d, not %d", maxPage, page)
	}
	return (max(page, 1) - 1) * size, nil
}

// optionalStatus reads a status filter; empty means all.
func optionalStatus(s string) (jobs.Status, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	st, err := jobs.ParseStatus(strings.ToLower(s))
	if err != nil {
		return "", jobs.FieldError("status", "unknown status %q (one of pending, running, completed, failed, cancelled)", s)
	}
	return st, nil
}

// listOrders are the API's names of the batch list orders.
var listOrders = map[string]jobs.ListOrder{
	"": jobs.NewestFirst, "newest": jobs.NewestFirst, "oldest": jobs.OldestFirst,
	"name": jobs.NameAsc, "name_desc": jobs.NameDesc,
}

// listOrder reads the sort parameter of a batch list.
func listOrder(s string) (jobs.ListOrder, error) {
	o, ok := listOrders[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return "", jobs.FieldError("sort", "unknown order %q (one of newest, oldest, name, name_desc)", s)
	}
	return o, nil
}

// BatchList lists the user's batches (and individual jobs when asked),
// newest first unless sorted otherwise.
func (s *Service) BatchList(ctx context.Context, userID string, q api.ListQuery) (*api.BatchList, error) {
	status, err := optionalStatus(q.Status)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(q.PageSize, defaultListSize, maxListSize)
	if err != nil {
		return nil, err
	}
	order, err := listOrder(q.Sort)
	if err != nil {
		return nil, err
	}
	model := strings.TrimSpace(q.Model)
	query := strings.TrimSpace(q.Q)
	if len(query) > maxQueryLen {
		return nil, jobs.FieldError("q", "is longer than %d characters", maxQueryLen)
	}
	digest := queryDigest("batches", userID, string(status), model, query, string(order), strconv.FormatBool(q.IncludeJobs))
	offset, err := pageOffset(q.Page, size)
	if err != nil {
		return nil, err
	}
	f := jobs.BatchFilter{UserID: userID, Status: status, Model: model, Query: query, Order: order,
		Individual: q.IncludeJobs, Offset: offset, Limit: size + 1}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, digest)
		if err != nil {
			return nil, err
		}
		offset, f.Offset = c.Offset, 0
		if order != jobs.NewestFirst {
			f.Offset = offset // other orders page by position
		} else if c.AfterID != "" {
			f.After = &jobs.BatchKey{CreatedAt: time.Unix(0, c.After).UTC(), ID: c.AfterID}
		}
	}
	list, err := s.store.BatchList(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &api.BatchList{Batches: make([]api.Batch, 0, min(len(list), size)), Page: offset/size + 1, PageSize: size}
	if len(list) > size {
		list = list[:size]
		last := list[size-1]
		out.HasMore = true
		out.NextCursor = encodeCursor(cursor{Offset: offset + size, Query: digest, After: last.CreatedAt.UnixNano(), AfterID: last.ID})
	}
	for _, b := range list {
		out.Batches = append(out.Batches, apiBatch(b))
	}
	return out, nil
}

// BatchGet returns one of the user's batches with its progress.
func (s *Service) BatchGet(ctx context.Context, userID, batchID string) (*api.Batch, error) {
	b, err := s.batch(ctx, userID, batchID)
	if err != nil {
		return nil, err
	}
	out := apiBatch(b)
	return &out, nil
}

// BatchControl pauses, resumes, cancels or retries the failed children of
// one of the user's batches. Affected counts the children the action
// reached: pause and resume the pending children held back or released,
// cancel the pending and running children it stops, retry_failed the
// failed children put back.
func (s *Service) BatchControl(ctx context.Context, userID, batchID, action string) (*api.ControlResponse, error) {
	action = strings.TrimSpace(strings.ToLower(action))
	switch action {
	case api.ActionPause, api.ActionResume, api.ActionCancel, api.ActionRetryFailed:
	default:
		return nil, jobs.FieldError("action", "unknown action %q (one of pause, resume, cancel, retry_failed)", action)
	}
	before, err := s.batch(ctx, userID, batchID)
	if err != nil {
		return nil, err
	}
	var after *jobs.Batch
	affected := 0
	switch action {
	case api.ActionPause:
		after, err = s.store.BatchPause(ctx, userID, batchID)
		if err == nil && !before.Paused {
			affected = after.Progress.Pending
		}
	case api.ActionResume:
		after, err = s.store.BatchResume(ctx, userID, batchID)
		if err == nil && before.Paused {
			affected = after.Progress.Pending
		}
	case api.ActionCancel:
		after, err = s.store.BatchCancel(ctx, userID, batchID)
		if err == nil {
			affected = before.Progress.Pending + before.Progress.Running
		}
	case api.ActionRetryFailed:
		after, affected, err = s.store.BatchRetryFailed(ctx, userID, batchID)
	}
	if err != nil {
		return nil, err
	}
	s.rows.forget(batchID)
	return &api.ControlResponse{Action: action, Affected: affected, Batch: apiBatch(after)}, nil
}

// BatchDelete deletes one of the user's ended batches: the store's
// records first (a conflict while any child is pending or running), then
// its files under batches/{id}/ and archive/{id}/. A file that cannot be
// deleted is logged, not returned: the batch is gone for the user.
func (s *Service) BatchDelete(ctx context.Context, userID, batchID string) error {
	if _, err := s.batch(ctx, userID, batchID); err != nil {
		return err
	}
	if err := s.store.BatchDelete(ctx, userID, batchID); err != nil {
		return err
	}
	s.rows.forget(batchID)
	for _, prefix := range []string{results.BatchDir(batchID) + "/", "archive/" + batchID + "/"} {
		if err := s.results.DeletePrefix(ctx, prefix); err != nil {
			s.log.Error("delete batch files", "batch", batchID, "prefix", prefix, "err", err)
		}
	}
	return nil
}

// JobEntry is one of the user's individual jobs as an entry of the batch
// list (kind job), as BatchList lists it with include_jobs.
func (s *Service) JobEntry(ctx context.Context, userID, jobID string) (*api.Batch, error) {
	j, err := s.job(ctx, userID, jobID)
	if err != nil {
		return nil, err
	}
	if j.Type != jobs.TypeIndividual {
		return nil, jobNotFound()
	}
	out := apiBatch(&jobs.Batch{Job: *j, Progress: jobs.SingleProgress(j.Status)})
	return &out, nil
}

// JobCancel cancels one of the user's individual jobs: a pending job at
// once, a running one at its runner's next heartbeat. A batch's jobs are
// cancelled with their batch.
func (s *Service) JobCancel(ctx context.Context, userID, jobID string) (*api.Job, error) {
	j, err := s.job(ctx, userID, jobID)
	if err != nil {
		return nil, err
	}
	if j.Type != jobs.TypeIndividual {
		return nil, jobNotFound()
	}
	j, err = s.store.JobCancel(ctx, userID, jobID)
	if err != nil {
		return nil, err
	}
	out := s.apiJob(j, nil)
	return &out, nil
}

// JobDelete deletes one of the user's ended individual jobs and its files.
// Jobs that reused its result get a copy of its files first, so that
// nothing they show goes missing; if that fails, nothing is deleted.
func (s *Service) JobDelete(ctx context.Context, userID, jobID string) error {
	j, err := s.job(ctx, userID, jobID)
	if err != nil {
		return err
	}
	if j.Type != jobs.TypeIndividual {
		return jobNotFound()
	}
	if !j.Status.Final() {
		return jobs.Errorf(jobs.ErrConflict, "job %s is %s: cancel it first and wait until it ends", jobID, j.Status)
	}
	for off := 0; ; off += storePage {
		reusers, err := s.store.JobList(ctx, jobs.JobFilter{UserID: userID, ReusedFrom: jobID, Offset: off, Limit: storePage})
		if err != nil {
			return err
		}
		for _, r := range reusers {
			if err := s.results.CopyJob(ctx, "", jobID, batchOf(r), r.ID); err != nil {
				return fmt.Errorf("keep the files of job %s, which reused %s: %w", r.ID, jobID, err)
			}
		}
		if len(reusers) < storePage {
			break
		}
	}
	if err := s.store.JobDelete(ctx, userID, jobID); err != nil {
		return err
	}
	if err := s.results.DeletePrefix(ctx, results.JobDir("", jobID)+"/"); err != nil {
		s.log.Error("delete job files", "job", jobID, "err", err)
	}
	return nil
}

// job reads one of the user's jobs that has a folder: an individual job
// or a batch child (a batch parent is read as a batch).
func (s *Service) job(ctx context.Context, userID, jobID string) (*jobs.Job, error) {
	if userID == "" || jobID == "" || results.ValidateID("job_id", jobID) != nil {
		return nil, jobNotFound()
	}
	j, err := s.store.JobGet(ctx, userID, jobID)
	if jobs.IsCode(err, jobs.ErrNotFound) || err == nil && j.Type == jobs.TypeBatchParent {
		return nil, jobNotFound()
	}
	return j, err
}

// batchJob reads a child of one of the user's batches.
func (s *Service) batchJob(ctx context.Context, userID, batchID, jobID string) (*jobs.Job, error) {
	j, err := s.job(ctx, userID, jobID)
	if err != nil {
		return nil, err
	}
	if j.Type != jobs.TypeBatchChild || j.BatchID != batchID {
		return nil, jobNotFound()
	}
	return j, nil
}

// JobGet returns one of the user's jobs: an individual job or a batch
// child.
func (s *Service) JobGet(ctx context.Context, userID, jobID string) (*api.Job, error) {
	j, err := s.job(ctx, userID, jobID)
	if err != nil {
		return nil, err
	}
	out := s.apiJob(j, s.jobFiles(ctx, j))
	return &out, nil
}

// BatchJobGet returns a child of one of the user's batches.
func (s *Service) BatchJobGet(ctx context.Context, userID, batchID, jobID string) (*api.Job, error) {
	j, err := s.batchJob(ctx, userID, batchID, jobID)
	if err != nil {
		return nil, err
	}
	out := s.apiJob(j, s.jobFiles(ctx, j))
	return &out, nil
}

// jobFiles lists the files of a job's folder (and, for a job that reused
// identical work, of the folder it reused); nil when none can be listed,
// so that the result summary's list stands.
func (s *Service) jobFiles(ctx context.Context, j *jobs.Job) []string {
	seen := map[string]bool{}
	var names []string
	for _, dir := range s.folders(ctx, j) {
		keys, err := s.results.List(ctx, dir+"/")
		if err != nil {
			s.log.Warn("list job files", "job", j.ID, "err", err)
			continue
		}
		for _, k := range keys {
			name := strings.TrimPrefix(k, dir+"/")
			if !strings.Contains(name, "/") && !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	return names
}

// folders are the folders a job's files may be in: its own, then the one
// of the job it reused.
func (s *Service) folders(ctx context.Context, j *jobs.Job) []string {
	dirs := []string{results.JobDir(batchOf(j), j.ID)}
	if j.ReusedFrom != "" {
		if src, err := s.store.JobGet(ctx, j.UserID, j.ReusedFrom); err == nil && src.Type != jobs.TypeBatchParent {
			dirs = append(dirs, results.JobDir(batchOf(src), src.ID))
		}
	}
	return dirs
}

// batchOf is the batch folder of a job: its batch for a child, none for
// an individual job.
func batchOf(j *jobs.Job) string {
	if j.Type == jobs.TypeBatchChild {
		return j.BatchID
	}
	return ""
}

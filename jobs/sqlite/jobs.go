package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"omtx/jobs"
)

const jobColumns = `id, user_id, type, batch_id, idx, model, model_version, name, input, content_key,
	status, attempt, max_attempts, available_at, lease_owner, lease_expires_at, cancel_requested,
	error, result, reused_from, created_at, started_at, finished_at, updated_at,
	n_total, n_pending, n_running, n_completed, n_failed, n_cancelled, finalize_state, finalized_at,
	paused, request_id, webhook_url, webhook_secret, trace_context`

type scanner interface{ Scan(dest ...any) error }

// scanJob reads a row of jobColumns. Batch fields are filled for parents.
func scanJob(row scanner) (*jobs.Batch, error) {
	var (
		b                                          jobs.Batch
		j                                          = &b.Job
		typ, status, finalize, owner               string
		avail, expires, created, started, fin, upd int64
		finalized                                  int64
		cancel, paused                             int
		hookURL, hookSecret                        string
		input, result                              []byte
		total, pending, running, completed, failed int
		cancelled                                  int
	)
	err := row.Scan(&j.ID, &j.UserID, &typ, &j.BatchID, &j.Index, &j.Model, &j.ModelVersion, &j.Name, &input, &j.ContentKey,
		&status, &j.Attempt, &j.MaxAttempts, &avail, &owner, &expires, &cancel,
		&j.Error, &result, &j.ReusedFrom, &created, &started, &fin, &upd,
		&total, &pending, &running, &completed, &failed, &cancelled, &finalize, &finalized,
		&paused, &j.RequestID, &hookURL, &hookSecret, &j.TraceContext)
	if err != nil {
		return nil, err
	}
	j.Type, j.Status = jobs.Type(typ), jobs.Status(status)
	j.Input, j.Result = input, result
	j.AvailableAt, j.CreatedAt, j.StartedAt, j.FinishedAt, j.UpdatedAt = toTime(avail), toTime(created), toTime(started), toTime(fin), toTime(upd)
	j.CancelRequested = cancel != 0
	if owner != "" {
		j.Lease = &jobs.Lease{JobID: j.ID, Owner: owner, Attempt: j.Attempt, ExpiresAt: toTime(expires)}
	}
	if j.Type == jobs.TypeBatchParent {
		b.Progress = jobs.Progress{Total: total, Pending: pending, Running: running, Completed: completed, Failed: failed, Cancelled: cancelled}
		b.Finalize = jobs.FinalizeState(finalize)
		b.FinalizedAt = toTime(finalized)
		b.Paused = paused != 0
		if hookURL != "" {
			j.Webhook = &jobs.Webhook{URL: hookURL, Secret: hookSecret}
		}
	}
	return &b, nil
}

// loadJob reads one job matching where.
func (s *Store) loadJob(ctx context.Context, q querier, where string, args ...any) (*jobs.Batch, error) {
	return s.loadJobFrom(ctx, q, `jobs`, where, args...)
}

// loadJobFrom reads one job matching where from table, which may name the
// index to search (jobs INDEXED BY ...).
func (s *Store) loadJobFrom(ctx context.Context, q querier, table, where string, args ...any) (*jobs.Batch, error) {
	row := q.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM `+table+` WHERE `+where, args...)
	b, err := scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobs.Errorf(jobs.ErrNotFound, "not found")
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func newID() string { return uuid.NewString() }

// Submit implements jobs.Store.
func (s *Store) Submit(ctx context.Context, sub jobs.Submission) (*jobs.Job, error) {
	if err := sub.Validate(); err != nil {
		return nil, err
	}
	if sub.IsBatch() && len(sub.Children) == 0 {
		return nil, jobs.FieldError("ligands", "a batch needs at least one ligand")
	}
	if sub.MaxAttempts == 0 {
		sub.MaxAttempts = jobs.DefaultMaxAttempts
	}
	now := s.now()
	id := newID()
	var earlier *keyHolder
	err := s.tx(ctx, func(tx *wtx) error {
		h, err := keyHeld(ctx, tx, sub)
		if err != nil || h != nil {
			earlier = h
			return err
		}
		if !sub.IsBatch() {
			return s.submitIndividual(ctx, tx, id, sub, now)
		}
		return s.submitBatch(ctx, tx, id, sub, now)
	})
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	if earlier != nil {
		return nil, s.replay(ctx, sub, earlier)
	}
	b, err := s.loadJob(ctx, s.reads, `id = ? AND user_id = ?`, id, sub.UserID)
	if err != nil {
		return nil, fmt.Errorf("submit: read back %s: %w", id, err)
	}
	return &b.Job, nil
}

const insertJob = `INSERT INTO jobs (id, user_id, type, batch_id, idx, model, model_version, name, input, content_key,
	status, max_attempts, available_at, result, reused_from, created_at, finished_at, updated_at, n_total, n_pending,
	request_id, webhook_url, webhook_secret, trace_context, idempotency_key, request_fingerprint)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// keyHolder is the job that holds a submission's idempotency key.
type keyHolder struct {
	id          string
	fingerprint string
}

// keyHeld finds the user's job that holds sub's idempotency key, if any.
// Writes serialize, so what it finds holds until the transaction ends; the
// unique index on (user_id, idempotency_key) stands behind it.
func keyHeld(ctx context.Context, q querier, sub jobs.Submission) (*keyHolder, error) {
	if sub.IdempotencyKey == "" {
		return nil, nil
	}
	var h keyHolder
	err := q.QueryRowContext(ctx, `SELECT id, request_fingerprint FROM jobs WHERE user_id = ? AND idempotency_key = ?`,
		sub.UserID, sub.IdempotencyKey).Scan(&h.id, &h.fingerprint)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// replay answers a submission whose key h holds: the job as it is now for
// the same work, a conflict for other work.
func (s *Store) replay(ctx context.Context, sub jobs.Submission, h *keyHolder) error {
	if h.fingerprint != sub.Fingerprint() {
		return jobs.KeyReusedError(h.id)
	}
	j, err := s.loadJob(ctx, s.reads, `id = ? AND user_id = ?`, h.id, sub.UserID)
	if err != nil {
		return fmt.Errorf("submit: read back %s: %w", h.id, err)
	}
	return &jobs.SubmittedError{Job: &j.Job}
}

// keyColumns are the values of a submission's idempotency_key and
// request_fingerprint: NULL without a key.
func keyColumns(sub jobs.Submission) (key, fingerprint any) {
	if sub.IdempotencyKey == "" {
		return nil, nil
	}
	return sub.IdempotencyKey, sub.Fingerprint()
}

// cached looks up a completed result of identical work by the same user.
func cached(ctx context.Context, q querier, userID, key string) (jobID string, result []byte, ok bool, err error) {
	if key == "" {
		return "", nil, false, nil
	}
	err = q.QueryRowContext(ctx, cacheQuery, userID, key).Scan(&jobID, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	return jobID, result, err == nil, err
}

const cacheQuery = `SELECT j.id, j.result FROM results_cache c JOIN jobs j ON j.id = c.job_id
	WHERE c.user_id = ? AND c.content_key = ? AND j.status = 'completed'`

func (s *Store) submitIndividual(ctx context.Context, tx *wtx, id string, sub jobs.Submission, now int64) error {
	from, result, hit, err := cached(ctx, tx, sub.UserID, sub.ContentKey)
	if err != nil {
		return err
	}
	status, finished := jobs.StatusPending, int64(0)
	if hit {
		status, finished = jobs.StatusCompleted, now
	}
	key, fingerprint := keyColumns(sub)
	_, err = tx.ExecContext(ctx, insertJob, id, sub.UserID, jobs.TypeIndividual, "", 0, sub.Model, sub.ModelVersion, sub.Name,
		[]byte(sub.Input), sub.ContentKey, status, sub.MaxAttempts, now, result, from, now, finished, now, 0, 0,
		sub.RequestID, "", "", sub.TraceContext, key, fingerprint)
	if err != nil {
		return err
	}
	pending := 1
	if hit {
		pending = 0
	}
	if err := submitUser(ctx, tx, sub, pending); err != nil {
		return err
	}
	return recordChange(ctx, tx, sub.UserID, id, "", jobs.TypeIndividual, status, now)
}

func (s *Store) submitBatch(ctx context.Context, tx *wtx, id string, sub jobs.Submission, now int64) error {
	n := len(sub.Children)
	var hook jobs.Webhook
	if sub.Webhook != nil {
		hook = *sub.Webhook
	}
	key, fingerprint := keyColumns(sub)
	_, err := tx.ExecContext(ctx, insertJob, id, sub.UserID, jobs.TypeBatchParent, id, 0, sub.Model, sub.ModelVersion, sub.Name,
		[]byte(sub.Input), sub.ContentKey, jobs.StatusPending, sub.MaxAttempts, now, nil, "", now, 0, now, n, n,
		sub.RequestID, hook.URL, hook.Secret, sub.TraceContext, key, fingerprint)
	if err != nil {
		return err
	}
	reused := 0
	for i, c := range sub.Children {
		if len(c.Input) > 0 && !json.Valid(c.Input) {
			return jobs.FieldError("ligands", "row %d (%s): input is not valid JSON", i+1, c.Name)
		}
		from, result, hit, err := cached(ctx, tx, sub.UserID, c.ContentKey)
		if err != nil {
			return err
		}
		status, finished := jobs.StatusPending, int64(0)
		if hit {
			status, finished = jobs.StatusCompleted, now
			reused++
		}
		_, err = tx.ExecContext(ctx, insertJob, newID(), sub.UserID, jobs.TypeBatchChild, id, i, sub.Model, sub.ModelVersion, c.Name,
			[]byte(c.Input), c.ContentKey, status, sub.MaxAttempts, now, result, from, now, finished, now, 0, 0,
			sub.RequestID, "", "", sub.TraceContext, nil, nil)
		if err != nil {
			return fmt.Errorf("child %d: %w", i, err)
		}
	}
	if err := submitUser(ctx, tx, sub, n-reused); err != nil {
		return err
	}
	var seq int64
	err = tx.QueryRowContext(ctx, `INSERT INTO changes (user_id, job_id, batch_id, type, status, at) VALUES (?, ?, ?, ?, ?, ?)
		RETURNING seq`, sub.UserID, id, id, jobs.TypeBatchParent, jobs.StatusPending, now).Scan(&seq)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET first_change_seq = ? WHERE id = ?`, seq, id); err != nil {
		return err
	}
	if reused > 0 {
		return s.moveChildren(ctx, tx, id, jobs.StatusPending, jobs.StatusCompleted, reused, now)
	}
	return nil
}

// submitUser adds a submission's pending jobs to its user's queue entry
// and sets the user's cap on running jobs to the submission's.
func submitUser(ctx context.Context, q querier, sub jobs.Submission, pending int) error {
	_, err := q.ExecContext(ctx, `INSERT INTO queue_users (user_id, pending, max_running) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET pending = pending + excluded.pending, max_running = excluded.max_running`,
		sub.UserID, pending, max(sub.MaxRunning, 0))
	return err
}

// addUserCounts keeps the counts of a user's pending and running jobs that
// the lease scheduler uses to find users with work under their cap. The
// user's row exists: the submission of any job that was ever pending made
// it. Only the counts that change are set: setting pending, even to
// itself, rewrites the partial index on it as well.
func addUserCounts(ctx context.Context, q querier, userID string, pending, running int) error {
	var err error
	switch {
	case pending != 0 && running != 0:
		_, err = q.ExecContext(ctx, `UPDATE queue_users SET pending = pending + ?, running = running + ? WHERE user_id = ?`,
			pending, running, userID)
	case pending != 0:
		_, err = q.ExecContext(ctx, `UPDATE queue_users SET pending = pending + ? WHERE user_id = ?`, pending, userID)
	case running != 0:
		_, err = q.ExecContext(ctx, `UPDATE queue_users SET running = running + ? WHERE user_id = ?`, running, userID)
	}
	return err
}

func recordChange(ctx context.Context, q querier, userID, jobID, batchID string, typ jobs.Type, status jobs.Status, now int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO changes (user_id, job_id, batch_id, type, status, at) VALUES (?, ?, ?, ?, ?, ?)`,
		userID, jobID, batchID, typ, status, now)
	return err
}

// moveChildren records that n children of a batch went from one status to
// another: it updates the parent's counters and milestones, and when no
// child is left pending or running it sets the batch's final status and
// makes its finalize task pending (and clears its pause: an ended batch
// hands out nothing anyway). Writes serialize, so this happens exactly once
// per batch, or once more after BatchRetryFailed reopened it.
func (s *Store) moveChildren(ctx context.Context, tx *wtx, batchID string, from, to jobs.Status, n int, now int64) error {
	return s.moveChildrenSeq(ctx, tx, batchID, from, to, n, now, 0)
}

// moveChildrenSeq is moveChildren that also records, unless leaseSeq is 0,
// when the batch was last served (in the same statement: a lease is the
// hot path).
func (s *Store) moveChildrenSeq(ctx context.Context, tx *wtx, batchID string, from, to jobs.Status, n int, now, leaseSeq int64) error {
	if n == 0 {
		return nil
	}
	p, err := s.loadJob(ctx, tx, `id = ? AND type = 'BATCH_PARENT'`, batchID)
	if err != nil {
		return fmt.Errorf("batch %s: %w", batchID, err)
	}
	before := p.Progress
	after := before
	after.Move(from, to, n)
	status, started, finished, finalize := p.Status, fromTime(p.StartedAt), int64(0), p.Finalize
	if status == jobs.StatusPending && to == jobs.StatusRunning {
		status, started = jobs.StatusRunning, now
	}
	if after.Pending+after.Running == 0 && !p.Status.Final() {
		status, finished, finalize = jobs.FinalStatus(after, p.CancelRequested), now, jobs.FinalizePending
	}
	_, err = tx.ExecContext(ctx, `UPDATE jobs SET n_pending = ?, n_running = ?, n_completed = ?, n_failed = ?, n_cancelled = ?,
		status = ?, started_at = ?, finished_at = CASE WHEN ? > 0 THEN ? ELSE finished_at END,
		paused = CASE WHEN ? > 0 THEN 0 ELSE paused END, finalize_state = ?, updated_at = ?,
		last_leased_seq = CASE WHEN ? > 0 THEN ? ELSE last_leased_seq END
		WHERE id = ?`,
		after.Pending, after.Running, after.Completed, after.Failed, after.Cancelled,
		status, started, finished, finished, finished, finalize, now, leaseSeq, leaseSeq, batchID)
	if err != nil {
		return err
	}
	for _, m := range jobs.CrossedMilestones(before, after) {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO milestones (batch_id, percent, at) VALUES (?, ?, ?)`, batchID, m, now); err != nil {
			return err
		}
	}
	if status != p.Status {
		return recordChange(ctx, tx, p.UserID, batchID, batchID, jobs.TypeBatchParent, status, now)
	}
	return nil
}

// JobGet implements jobs.Store.
func (s *Store) JobGet(ctx context.Context, userID, jobID string) (*jobs.Job, error) {
	b, err := s.loadJob(ctx, s.reads, `id = ? AND user_id = ?`, jobID, userID)
	if err != nil {
		return nil, notFound(err, "job", jobID)
	}
	return &b.Job, nil
}

// BatchGet implements jobs.Store.
func (s *Store) BatchGet(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	b, err := s.loadJob(ctx, s.reads, `id = ? AND user_id = ? AND type = 'BATCH_PARENT'`, batchID, userID)
	if err != nil {
		return nil, notFound(err, "batch", batchID)
	}
	if err := s.loadMilestones(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Store) loadMilestones(ctx context.Context, b *jobs.Batch) error {
	rows, err := s.reads.QueryContext(ctx, `SELECT percent, at FROM milestones WHERE batch_id = ? ORDER BY percent`, b.ID)
	if err != nil {
		return fmt.Errorf("milestones of %s: %w", b.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m jobs.Milestone
		var at int64
		if err := rows.Scan(&m.Percent, &at); err != nil {
			return err
		}
		m.At = toTime(at)
		b.Milestones = append(b.Milestones, m)
	}
	return rows.Err()
}

func notFound(err error, what, id string) error {
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return jobs.Errorf(jobs.ErrNotFound, "%s %s not found", what, id)
	}
	return fmt.Errorf("get %s %s: %w", what, id, err)
}

func limit(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// JobList implements jobs.Store.
func (s *Store) JobList(ctx context.Context, f jobs.JobFilter) ([]*jobs.Job, error) {
	if f.UserID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	where, args := []string{"user_id = ?"}, []any{f.UserID}
	order := "created_at DESC, rowid DESC"
	if f.BatchID != "" {
		where, args = append(where, "batch_id = ?", "type = 'BATCH_CHILD'"), append(args, f.BatchID)
		order = "idx"
	}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.ReusedFrom != "" {
		where, args = append(where, "reused_from = ?"), append(args, f.ReusedFrom)
	}
	args = append(args, limit(f.Limit, 100, 1000), max(f.Offset, 0))
	rows, err := s.reads.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []*jobs.Job
	for rows.Next() {
		b, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, &b.Job)
	}
	return out, rows.Err()
}

// batchOrders are BatchList's ORDER BY clauses.
var batchOrders = map[jobs.ListOrder]string{
	jobs.NewestFirst: "created_at DESC, id DESC",
	jobs.OldestFirst: "created_at ASC, id ASC",
	jobs.NameAsc:     "lower(name) ASC, id ASC",
	jobs.NameDesc:    "lower(name) DESC, id DESC",
}

// BatchList implements jobs.Store.
func (s *Store) BatchList(ctx context.Context, f jobs.BatchFilter) ([]*jobs.Batch, error) {
	if f.UserID == "" {
		return nil, jobs.FieldError("user", "is required")
	}
	order, ok := batchOrders[f.Order]
	if !ok {
		return nil, jobs.FieldError("sort", "unknown order %q", f.Order)
	}
	if f.After != nil && f.Order != jobs.NewestFirst {
		return nil, jobs.FieldError("cursor", "only pages the newest-first order")
	}
	where, args := "user_id = ? AND type = 'BATCH_PARENT'", []any{f.UserID}
	if f.Individual {
		where = "user_id = ? AND type IN ('BATCH_PARENT', 'INDIVIDUAL')"
	}
	if f.Status != "" {
		where, args = where+" AND status = ?", append(args, f.Status)
	}
	if f.Model != "" {
		where, args = where+" AND model = ?", append(args, f.Model)
	}
	if f.Query != "" {
		where, args = where+" AND instr(lower(name), ?) > 0", append(args, strings.ToLower(f.Query))
	}
	if f.After != nil {
		at := fromTime(f.After.CreatedAt)
		where, args = where+" AND (created_at < ? OR (created_at = ? AND id < ?))", append(args, at, at, f.After.ID)
	}
	args = append(args, limit(f.Limit, 50, 500), max(f.Offset, 0))
	rows, err := s.reads.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+where+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	var out []*jobs.Batch
	for rows.Next() {
		b, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	var parents []*jobs.Batch
	for _, b := range out {
		if b.Type == jobs.TypeIndividual {
			b.Progress = jobs.SingleProgress(b.Status)
			continue
		}
		parents = append(parents, b)
	}
	if err := s.loadMilestonesOf(ctx, parents); err != nil {
		return nil, err
	}
	return out, nil
}

// loadMilestonesOf loads the milestones of a page of batches in one query.
func (s *Store) loadMilestonesOf(ctx context.Context, batches []*jobs.Batch) error {
	if len(batches) == 0 {
		return nil
	}
	byID := make(map[string]*jobs.Batch, len(batches))
	args := make([]any, len(batches))
	for i, b := range batches {
		byID[b.ID], args[i] = b, b.ID
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT batch_id, percent, at FROM milestones WHERE batch_id IN (?`+
		strings.Repeat(", ?", len(batches)-1)+`) ORDER BY batch_id, percent`, args...)
	if err != nil {
		return fmt.Errorf("milestones of %d batches: %w", len(batches), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var m jobs.Milestone
		var at int64
		if err := rows.Scan(&id, &m.Percent, &at); err != nil {
			return err
		}
		m.At = toTime(at)
		if b := byID[id]; b != nil {
			b.Milestones = append(b.Milestones, m)
		}
	}
	return rows.Err()
}

// JobCancel implements jobs.Store.
func (s *Store) JobCancel(ctx context.Context, userID, jobID string) (*jobs.Job, error) {
	err := s.tx(ctx, func(tx *wtx) error {
		b, err := s.loadJob(ctx, tx, `id = ? AND user_id = ? AND type != 'BATCH_PARENT'`, jobID, userID)
		if err != nil {
			return notFound(err, "job", jobID)
		}
		return s.cancelJob(ctx, tx, &b.Job, s.now())
	})
	if err != nil {
		return nil, err
	}
	return s.JobGet(ctx, userID, jobID)
}

// cancelJob cancels a pending job at once and asks a running one to stop.
func (s *Store) cancelJob(ctx context.Context, tx *wtx, j *jobs.Job, now int64) error {
	switch j.Status {
	case jobs.StatusRunning:
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?`, now, j.ID)
		return err
	case jobs.StatusPending:
		return s.setStatus(ctx, tx, j, jobs.StatusCancelled, now, "")
	}
	return jobs.CheckTransition(j.ID, j.Status, jobs.StatusCancelled)
}

// setStatus moves one job out of pending or running (not to running: see
// JobLease), clearing its lease, and keeps the parent's counts and the
// user's queue in step.
func (s *Store) setStatus(ctx context.Context, tx *wtx, j *jobs.Job, to jobs.Status, now int64, errMsg string) error {
	return s.setStatusResult(ctx, tx, j, to, now, errMsg, nil)
}

// setStatusResult is setStatus that also writes the job's result, unless
// result is nil (in the same statement: a completion is the hot path).
func (s *Store) setStatusResult(ctx context.Context, tx *wtx, j *jobs.Job, to jobs.Status, now int64, errMsg string, result any) error {
	if err := jobs.CheckTransition(j.ID, j.Status, to); err != nil {
		return err
	}
	finished := int64(0)
	if to.Final() {
		finished = now
	}
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, lease_owner = '', lease_expires_at = 0, cancel_requested = 0,
		finished_at = ?, error = CASE WHEN ? != '' THEN ? ELSE error END, result = coalesce(?, result), updated_at = ? WHERE id = ?`,
		to, finished, errMsg, errMsg, result, now, j.ID)
	if err != nil {
		return err
	}
	var pending, running int
	switch j.Status {
	case jobs.StatusPending:
		pending--
	case jobs.StatusRunning:
		running--
	}
	if to == jobs.StatusPending {
		pending++
	}
	if err := addUserCounts(ctx, tx, j.UserID, pending, running); err != nil {
		return err
	}
	if err := recordChange(ctx, tx, j.UserID, j.ID, j.BatchID, j.Type, to, now); err != nil {
		return err
	}
	if j.Type == jobs.TypeBatchChild {
		return s.moveChildren(ctx, tx, j.BatchID, j.Status, to, 1, now)
	}
	return nil
}

// BatchCancel implements jobs.Store.
func (s *Store) BatchCancel(ctx context.Context, userID, batchID string) (*jobs.Batch, error) {
	err := s.tx(ctx, func(tx *wtx) error {
		p, err := s.loadJob(ctx, tx, `id = ? AND user_id = ? AND type = 'BATCH_PARENT'`, batchID, userID)
		if err != nil {
			return notFound(err, "batch", batchID)
		}
		if p.Status.Final() {
			return jobs.Errorf(jobs.ErrConflict, "batch %s is already %s", batchID, p.Status)
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?`, now, batchID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET cancel_requested = 1, updated_at = ?
			WHERE batch_id = ? AND type = 'BATCH_CHILD' AND status = 'running'`, now, batchID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'cancelled', finished_at = ?, updated_at = ?
			WHERE batch_id = ? AND type = 'BATCH_CHILD' AND status = 'pending'`, now, now, batchID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if err := addUserCounts(ctx, tx, userID, -int(n), 0); err != nil {
			return err
		}
		if err := recordChange(ctx, tx, userID, batchID, batchID, jobs.TypeBatchParent, p.Status, now); err != nil {
			return err
		}
		return s.moveChildren(ctx, tx, batchID, jobs.StatusPending, jobs.StatusCancelled, int(n), now)
	})
	if err != nil {
		return nil, err
	}
	return s.BatchGet(ctx, userID, batchID)
}

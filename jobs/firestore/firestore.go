// Package firestore is a jobs.Store on Google Cloud Firestore (native
// mode), for a hub that runs on more than one machine.
//
// # Document layout
//
// Everything lives under one root document (Options.Root, default
// "omtx/default"), so that several hubs, or tests, share a database
// without seeing each other:
//
//	{root}/jobs/{jobID}                   individual jobs, batch parents and
//	                                      batch children, one document each
//	{root}/jobs/{batchID}/progress/{k}    a batch's progress, sharded: shard k
//	                                      counts the children with index % n == k
//	{root}/users/{userKey}                a user's queue entry (pending and
//	                                      running counts, cap, when last
//	                                      served) and change-feed counter
//	{root}/users/{userKey}/changes/{id}   the user's change feed (random ids,
//	                                      ordered by the field seq)
//	{root}/results/{resultKey}            completed work by (user, content
//	                                      key): the job whose result is reused
//	{root}/idempotency/{keyKey}           a submission's idempotency key by
//	                                      (user, key): the job or batch it
//	                                      recorded and the work's fingerprint
//
// Job ids are random UUIDs, as in jobs/sqlite; userKey, resultKey and
// keyKey are SHA-256 digests of the user id (and content or idempotency
// key), so no document id grows monotonically and any user id is a valid
// document id. Times are Unix nanoseconds from the injected jobs.Clock,
// never server timestamps.
//
// # Transactions
//
// Every change of a job runs in a Firestore transaction that reads the job,
// its user's document and, for a batch child, its parent and its progress
// shard, checks the state it expects (status, lease owner and attempt for
// a lease), and writes all of them back together with the change-feed
// entries it records. Transaction functions only read and compute; the
// writes are buffered and issued at the end (Firestore wants all reads
// before the first write), so a retried function starts afresh.
//
// A batch's progress is the sum of its shards. A child's change touches
// only its own shard; only when that shard has no open (pending or running)
// child left does the transaction read the other shards, to learn whether
// the batch has ended: serializable transactions make that happen exactly
// once, and the transaction that ends the batch records any milestone not
// recorded yet. The other milestones are recorded right after the commit
// that crossed them, from a fresh read of the shards (should that fail,
// the next child that ends records them, timed then).
//
// A user's document is written by every change of the user's jobs (queue
// counts, feed sequence), so one user's changes serialize on it; that is
// the price of an exact cap on running jobs and of a gap-free feed. Within
// a Store they take turns on a lock per user (see lockUser) rather than
// collide in Firestore; between hubs, Firestore's locks decide.
//
// # Batches larger than a transaction
//
// A batch is submitted in steps: its parent is created hidden (field
// phase "submitting"), its children are written in chunks, and one last
// transaction makes the parent visible, counts the children in the user's
// queue and records the change. A child is visible only while its parent
// is: every read of a child checks its parent, and the lease and list
// queries start from visible parents, so no reader sees part of a batch. A
// failed submission deletes what it wrote; one abandoned by a crash stays
// hidden and JobRescue removes it after Options.StaleAfter.
//
// Cancelling a batch, retrying its failed children and deleting it change
// too many documents for one transaction. Each marks the parent first (a
// cancel request and sweep "cancel", sweep "retry", phase "deleting"),
// which is what readers and workers act on, and then moves or deletes the
// children in chunks. A sweep that did not finish (the process died) is
// resumed by JobRescue after Options.StaleAfter. While a sweep runs, the
// batch does not end; the sweep's last step ends it when nothing is open.
//
// # Idempotency keys
//
// A submission under an idempotency key is looked up before anything is
// written, so that a repeat writes nothing. The key's document is
// created in the transaction that makes the work visible (the individual
// job's, or the one that shows a batch), which reads it again: of two
// submissions that raced past the look-up, the later finds the key held,
// fails, and, for a batch, deletes what it wrote. A key's document names
// its job, and the job names its key, so the transaction that deletes an
// individual job, or hides a batch to delete it, deletes the key's
// document too; a key whose job is gone or hidden holds nothing.
//
// # Indexes
//
// Besides Firestore's single-field indexes, the queries need composite
// indexes on collection "jobs" (scope collection) for:
//
//	user_id, type, status, model, created_at, ord   lease: individual jobs
//	user_id, type, open, model                      lease: open batches
//	batch_id, type, status, idx                     lease, cancel, retry, lists
//	type, finalize_state, finished_at               finalize tasks
//	status, lease_expires_at                        rescue
//	finalize_state, lease_expires_at                rescue of finalize tasks
//	phase, updated_at; sweep, sweep_at              rescue of unfinished work
//	type, status, attempt                           stats
//
// and on "users" for eligible, served, user_id (fair leasing). JobList and
// BatchList need one per combination of filters and order that callers
// use (user_id, then the filtered fields, then created_at or name_lower);
// Firestore's error for a missing index links to its definition. The
// emulator needs none.
package firestore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"omtx/jobs"
	"omtx/jobs/firestore/docid"
)

// Store is a jobs.Store in Firestore.
type Store struct {
	client *firestore.Client
	root   *firestore.DocumentRef
	cfg    jobs.Config
	opts   Options
	// userLocks: see lockUser.
	userLocks [64]sync.Mutex
}

var _ jobs.Store = (*Store)(nil)

// Options tune a Store; the zero value is good.
type Options struct {
	// Root is the path of the document under which the store keeps its
	// collections (default "omtx/default"). Stores with different roots
	// share nothing.
	Root string
	// DatabaseID is the Firestore database (default "(default)").
	DatabaseID string
	// ProgressShards is how many documents a batch's progress counters
	// are spread over (default 8; a batch never has more shards than
	// children). More shards let more workers end children of one batch
	// at once.
	ProgressShards int
	// StaleAfter is how long a submission, cancel, retry or delete may
	// stay half done before JobRescue finishes or undoes it (default 10
	// minutes, by the store's clock).
	StaleAfter time.Duration
	// TxAttempts is how many times a transaction is tried when it
	// conflicts with others (default 50).
	TxAttempts int
	// ClientOptions are passed to the Firestore client (credentials,
	// endpoint). FIRESTORE_EMULATOR_HOST is honoured by the client.
	ClientOptions []option.ClientOption
	// Log reports what fails after a change has committed (a milestone
	// not recorded); default slog.Default().
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "omtx/default"
	}
	if o.DatabaseID == "" {
		o.DatabaseID = firestore.DefaultDatabaseID
	}
	if o.ProgressShards <= 0 {
		o.ProgressShards = 8
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 10 * time.Minute
	}
	if o.TxAttempts <= 0 {
		o.TxAttempts = 50
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Open connects to the Firestore database of projectID.
func Open(ctx context.Context, projectID string, cfg jobs.Config, opts Options) (*Store, error) {
	if projectID == "" {
		return nil, errors.New("firestore: empty project id")
	}
	opts = opts.withDefaults()
	parts := strings.Split(opts.Root, "/")
	if len(parts)%2 != 0 {
		return nil, fmt.Errorf("firestore: root %q is not a document path (collection/document[/...])", opts.Root)
	}
	for _, p := range parts {
		if !validID(p) {
			return nil, fmt.Errorf("firestore: root %q has an invalid segment %q", opts.Root, p)
		}
	}
	client, err := firestore.NewClientWithDatabase(ctx, projectID, opts.DatabaseID, opts.ClientOptions...)
	if err != nil {
		return nil, fmt.Errorf("firestore: open %s: %w", projectID, err)
	}
	return &Store{client: client, root: client.Doc(opts.Root), cfg: cfg.WithDefaults(), opts: opts}, nil
}

// Close closes the client.
func (s *Store) Close() error { return s.client.Close() }

// Ping reads the root document (which need not exist): one cheap read.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.root.Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("firestore: ping: %w", err)
	}
	return nil
}

func (s *Store) now() int64 { return s.cfg.Clock.Now().UnixNano() }

func (s *Store) jobsCol() *firestore.CollectionRef  { return s.root.Collection("jobs") }
func (s *Store) usersCol() *firestore.CollectionRef { return s.root.Collection("users") }

func (s *Store) jobRef(id string) *firestore.DocumentRef { return s.jobsCol().Doc(id) }

func (s *Store) shardRef(batchID string, k int) *firestore.DocumentRef {
	return s.jobRef(batchID).Collection("progress").Doc(fmt.Sprint(k))
}

func (s *Store) userRef(userID string) *firestore.DocumentRef {
	return s.usersCol().Doc(digest(userID))
}

func (s *Store) changesCol(userID string) *firestore.CollectionRef {
	return s.userRef(userID).Collection("changes")
}

func (s *Store) resultRef(userID, key string) *firestore.DocumentRef {
	return s.root.Collection("results").Doc(digest(userID, key))
}

// digest and validID name documents (see package docid).
var (
	digest  = docid.Digest
	validID = docid.Valid
)

// runTx runs fn in a read-write transaction, retried on conflicts (the
// client backs off, and a retried transaction keeps its priority).
func (s *Store) runTx(ctx context.Context, fn func(context.Context, *firestore.Transaction) error) error {
	for attempt := 1; ; attempt++ {
		err := s.client.RunTransaction(ctx, fn, firestore.MaxAttempts(s.opts.TxAttempts))
		// A call the server cancelled while ours was still live (the
		// emulator does so under load) is tried again: transaction
		// functions are safe to run again, and a cancelled call committed
		// nothing.
		if err == nil || ctx.Err() != nil || status.Code(err) != codes.Canceled || attempt == serverCancelRetries {
			return err
		}
	}
}

// serverCancelRetries bounds how often a transaction the server cancelled
// is run again.
const serverCancelRetries = 3

// lockUser serializes this Store's transactions on one user's documents.
// Nearly every transaction reads and writes its user's queue document;
// two that run at once both hold Firestore's read lock on it and then
// both need its write lock, so one is aborted and retried after a
// backoff (the emulator even waits for a lock timeout). A hub's own
// workers therefore take turns here, and only transactions from other
// hubs meet in Firestore. Locks are striped, so memory does not grow with
// the number of users.
func (s *Store) lockUser(userID string) func() {
	h := fnv.New32a()
	h.Write([]byte(userID))
	mu := &s.userLocks[h.Sum32()%uint32(len(s.userLocks))]
	mu.Lock()
	return mu.Unlock
}

// wrap adds context to an internal error; the domain's errors pass as they
// are, so that their safe message is what the caller shows.
func wrap(err error, format string, args ...any) error {
	var e *jobs.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

func toTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func fromTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
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

// asciiLower lowers ASCII letters only, as SQLite's lower() does, so that
// both stores sort and search names alike.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

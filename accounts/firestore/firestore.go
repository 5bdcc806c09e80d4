// Package firestore is an accounts.Store on Google Cloud Firestore (native
// mode): users, API tokens, browser sessions and links to outside
// identities, for a hub that runs on more than one machine.
//
// # Document layout
//
// Everything lives under one root document (Options.Root, default
// "omtx/default", the job store's default too), so that several hubs, or
// tests, share a database without seeing each other. The collections'
// names start with "accounts_", so that the accounts and the job store
// (jobs/firestore) may share a root:
//
//	{root}/accounts_users/{userID}         a user: name, name_lower, tier,
//	                                       created_at, updated_at
//	{root}/accounts_names/{nameKey}        a taken name: user_id, name
//	{root}/accounts_tokens/{hash}          an API token: user_id, label,
//	                                       created_at, revoked_at
//	{root}/accounts_sessions/{hash}        a session: user_id, csrf,
//	                                       created_at, expires_at
//	{root}/accounts_externals/{extKey}     an outside identity's user:
//	                                       provider, subject, user_id,
//	                                       created_at
//
// User ids are random UUIDs, as in accounts/sqlite. A credential's document
// id is its hex SHA-256 (accounts.HashSecret): the store never holds a
// token or session secret, and a lookup is one read. nameKey is a SHA-256
// digest of the lower-cased (ASCII) name and extKey one of (provider,
// subject) (see digest), so any name or identity makes a valid document id
// and the id is fixed by what it stands for: a user and its name document
// (and, for a user made on first sign-in, its identity document) are
// created together in one commit that fails if any of them exists, which
// is what makes names unique regardless of case and gives an identity one
// user however many first sign-ins race. Times are Unix nanoseconds (0
// means unset) from the injected accounts.Config.Clock, never server
// timestamps: a session expires when that clock reaches expires_at, and
// SessionCreate first deletes every session expired by then.
//
// # Transactions
//
// Creations are blind: a transaction of Create writes, with no reads, so
// racing creators never hold locks on each other's documents; the losers'
// commit fails with AlreadyExists. Changes (a new tier, a revocation) and
// creations that depend on a user existing (a token, a session) read and
// write in one transaction. Transaction functions only read and buffer
// writes; everything they make (ids, secrets, times) is made before, so a
// retried function writes the same records. A Store runs its own
// read-write transactions on one user or token one at a time (see lock),
// so that they do not abort each other.
//
// # Indexes
//
// The queries need only Firestore's automatic single-field indexes:
// accounts_users on name_lower (UserByName, UserList) and
// accounts_sessions on expires_at (removing expired sessions).
package firestore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/uuid"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"omtx/accounts"
	"omtx/jobs"
	"omtx/jobs/firestore/docid"
)

// Collection names, under the root document.
const (
	colUsers     = "accounts_users"
	colNames     = "accounts_names"
	colTokens    = "accounts_tokens"
	colSessions  = "accounts_sessions"
	colExternals = "accounts_externals"
)

// Store is an accounts.Store in Firestore.
type Store struct {
	client *firestore.Client
	root   *firestore.DocumentRef
	cfg    accounts.Config
	opts   Options
	// locks: see lock.
	locks [32]sync.Mutex
}

var _ accounts.Store = (*Store)(nil)

// Options tune a Store; the zero value is good.
type Options struct {
	// Root is the path of the document under which the store keeps its
	// collections (default "omtx/default"). Stores with different roots
	// share nothing.
	Root string
	// DatabaseID is the Firestore database (default "(default)").
	DatabaseID string
	// TxAttempts is how many times a transaction is tried when it
	// conflicts with others (default 20).
	TxAttempts int
	// ClientOptions are passed to the Firestore client (credentials,
	// endpoint). FIRESTORE_EMULATOR_HOST is honoured by the client.
	ClientOptions []option.ClientOption
}

func (o Options) withDefaults() Options {
	if o.Root == "" {
		o.Root = "omtx/default"
	}
	if o.DatabaseID == "" {
		o.DatabaseID = firestore.DefaultDatabaseID
	}
	if o.TxAttempts <= 0 {
		o.TxAttempts = 20
	}
	return o
}

// Open connects to the Firestore database of projectID. It writes nothing.
func Open(ctx context.Context, projectID string, cfg accounts.Config, opts Options) (*Store, error) {
	if projectID == "" {
		return nil, errors.New("firestore: empty project id")
	}
	opts = opts.withDefaults()
	if err := checkRoot(opts.Root); err != nil {
		return nil, err
	}
	client, err := firestore.NewClientWithDatabase(ctx, projectID, opts.DatabaseID, opts.ClientOptions...)
	if err != nil {
		return nil, fmt.Errorf("firestore: open %s: %w", projectID, err)
	}
	return &Store{client: client, root: client.Doc(opts.Root), cfg: cfg.WithDefaults(), opts: opts}, nil
}

// checkRoot checks that root is a document path: collection/document,
// any number of times.
func checkRoot(root string) error {
	parts := strings.Split(root, "/")
	if len(parts)%2 != 0 {
		return fmt.Errorf("firestore: root %q is not a document path (collection/document[/...])", root)
	}
	for _, p := range parts {
		if !validID(p) {
			return fmt.Errorf("firestore: root %q has an invalid segment %q", root, p)
		}
	}
	return nil
}

// Close closes the client.
func (s *Store) Close() error { return s.client.Close() }

// Ping reads the root document (which need not exist): one cheap read.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.root.Get(ctx)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("firestore: ping: %w", err)
	}
	return nil
}

func (s *Store) userRef(id string) *firestore.DocumentRef {
	return s.root.Collection(colUsers).Doc(id)
}

func (s *Store) nameRef(name string) *firestore.DocumentRef {
	return s.root.Collection(colNames).Doc(digest(asciiLower(name)))
}

func (s *Store) tokenRef(token string) *firestore.DocumentRef {
	return s.root.Collection(colTokens).Doc(accounts.HashSecret(token))
}

func (s *Store) sessionRef(secret string) *firestore.DocumentRef {
	return s.root.Collection(colSessions).Doc(accounts.HashSecret(secret))
}

func (s *Store) externalRef(id accounts.External) *firestore.DocumentRef {
	return s.root.Collection(colExternals).Doc(digest(id.Provider, id.Subject))
}

// runTx runs fn in a read-write transaction, retried on conflicts (the
// client backs off). fn must be safe to run more than once.
func (s *Store) runTx(ctx context.Context, fn func(context.Context, *firestore.Transaction) error) error {
	return s.client.RunTransaction(ctx, fn, firestore.MaxAttempts(s.opts.TxAttempts))
}

// lock serializes this Store's transactions on one document (named by
// key). Two transactions that read a document and then write it both hold
// Firestore's read lock on it and then both need its write lock, so one is
// aborted and retried after a backoff of up to a second. A hub's own
// transactions therefore take turns here, and only transactions from other
// hubs meet in Firestore. Locks are striped, so memory does not grow with
// the number of documents.
func (s *Store) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	mu := &s.locks[h.Sum32()%uint32(len(s.locks))]
	mu.Lock()
	return mu.Unlock
}

// creation is a document to create and its data.
type creation struct {
	ref *firestore.DocumentRef
	doc any
}

// createAll creates documents in one commit, which fails with
// AlreadyExists (see isExists) if any of them exists. It reads nothing, so
// it holds no lock that a racing creator waits for.
func (s *Store) createAll(ctx context.Context, docs ...creation) error {
	return s.runTx(ctx, func(_ context.Context, tx *firestore.Transaction) error {
		for _, c := range docs {
			if err := tx.Create(c.ref, c.doc); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) now() int64 { return s.cfg.Clock.Now().UnixNano() }

// digest and validID name documents (see package docid).
var (
	digest  = docid.Digest
	validID = docid.Valid
)

// asciiLower lowers ASCII letters only, as SQLite's NOCASE does, so that
// both stores compare and sort names alike.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// wrap adds context to an internal error; the domain's errors pass as they
// are, so that their safe message is what the caller shows.
func wrap(err error, format string, args ...any) error {
	var e *jobs.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("firestore: "+format+": %w", append(args, err)...)
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// isExists reports whether err is a Create's failure on a document that
// exists.
func isExists(err error) bool { return status.Code(err) == codes.AlreadyExists }

func notFound(what string) error { return jobs.Errorf(jobs.ErrNotFound, "%s not found", what) }

func toTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func newID() string { return uuid.NewString() }

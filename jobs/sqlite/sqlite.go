// Package sqlite is the embedded jobs.Store: one SQLite file in WAL mode
// (modernc.org/sqlite, no cgo), with its schema migrated on open. It is the
// default store, so the whole hub runs on a laptop with no set-up.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"omtx/jobs"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a jobs.Store in one SQLite database file.
type Store struct {
	// Write transactions serialize on writeMu instead of contending for
	// SQLite's lock; other processes on the same file wait on busy_timeout.
	// The write pool keeps two connections so that a statement can be
	// prepared (once, then cached) while a transaction holds the other.
	writeMu sync.Mutex
	write   *sql.DB
	read    *sql.DB
	cfg     jobs.Config
	// poll is how often Watch looks for changes written by other processes.
	poll time.Duration

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each commit

	// writes are the write transactions' statements, prepared once.
	writes *stmtCache

	// reads runs read-only queries on the read pool with statements
	// prepared once (parsing SQL was most of the cost of a small read).
	reads *reader
}

var _ jobs.Store = (*Store)(nil)

// Options tune a Store; the zero value is good.
type Options struct {
	// WatchPoll is how often Watch polls for changes committed by other
	// processes on the same file (default 250 ms). Changes made through
	// this Store wake watchers at once.
	WatchPoll time.Duration
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, cfg jobs.Config, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(2)
	write.SetMaxIdleConns(2)
	s := &Store{write: write, cfg: cfg.WithDefaults(), poll: opts.WatchPoll, changed: make(chan struct{}),
		writes: newStmtCache(write)}
	if s.poll <= 0 {
		s.poll = 250 * time.Millisecond
	}
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	q.Set("_txlock", "deferred")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "cache_size(-32768)")
	q.Add("_pragma", "mmap_size(268435456)")
	s.read, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	s.read.SetMaxOpenConns(4)
	s.reads = &reader{stmts: newStmtCache(s.read)}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
		err = s.tx(ctx, func(tx *wtx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, s.now())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
	}
	return nil
}

// wtx is a write transaction whose statements are prepared once per
// Store and reused: parsing SQL was most of the cost of a lease.
type wtx struct {
	tx *sql.Tx
	s  *Store
}

func (t *wtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := t.s.writes.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, st), nil
}

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		// Let the caller see the error through Scan, as database/sql does.
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// stmtCache prepares each query once per pool. database/sql prepares a
// cached statement again on every connection that runs it, once.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	if !ok {
		var err error
		if st, err = c.db.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		c.stmts[query] = st
	}
	return st, nil
}

// reader runs queries on the read pool with cached prepared statements.
type reader struct {
	stmts *stmtCache
}

func (r *reader) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return r.stmts.get(ctx, query)
}

func (r *reader) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return nil, errors.New("sqlite: write on the read pool")
}

func (r *reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (r *reader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return r.stmts.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// tx runs fn in a write transaction and wakes watchers after it commits.
func (s *Store) tx(ctx context.Context, fn func(*wtx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&wtx{tx: tx, s: s}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}

func (s *Store) changedSignal() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Store) now() int64 { return s.cfg.Clock.Now().UnixNano() }

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

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

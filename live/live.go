// Package live is the pages' live channel: one WebSocket per open page
// that pushes what changed in the signed-in user's jobs and batches, as
// the store's change feed tells it.
//
// A page connects to the Hub's Handler with since=SEQ, the last change seq
// it has seen (0 or absent: only changes from now on). The Hub first sends
// a hello carrying the seq it starts from, then the changes the page
// missed, then new changes as they are committed, coalescing changes that
// arrive together into one message. Every message that carries changes
// carries the last seq, so that a page whose connection dropped reconnects
// with since= and misses nothing. A page that missed more than MaxCatchUp
// changes, or whose seq the feed no longer knows (a change deleted with
// its batch, another database), gets one reload message and is asked to
// render afresh. A user without any change yet is greeted with seq 0,
// which on reconnecting means "from now": a first change committed while
// such a page is away is not caught up.
//
// Each connection watches the feed on its own from its own seq; the
// store's Watch wakes it at once on commits in the same process.
//
// What a group of changes becomes on the wire is Config.Render's choice:
// the pages render HTML fragments that htmx swaps out of band; the default
// is JSON (RenderJSON).
package live

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"omtx/jobs"
)

// Feed is the part of jobs.Store the Hub reads: a user's change feed.
type Feed interface {
	// ChangesSince lists a user's changes after seq, in order, at most
	// limit of them.
	ChangesSince(ctx context.Context, userID string, since int64, limit int) ([]jobs.Change, error)
	// Watch streams a user's changes after seq until ctx ends; the channel
	// closes when ctx is done or the store fails.
	Watch(ctx context.Context, userID string, since int64) (<-chan jobs.Change, error)
}

// RenderFunc turns a group of a user's changes, in seq order, into one
// message. The message must carry the last change's seq (the page
// reconnects with it as since=). An empty message sends nothing; an error
// closes the connection (the page reconnects and catches up).
type RenderFunc func(ctx context.Context, userID string, changes []jobs.Change) ([]byte, error)

// NoticeFunc renders the messages that are not changes: a hello when the
// stream starts and a reload when the page missed too much. An empty
// message sends nothing.
type NoticeFunc func(ctx context.Context, userID string, n Notice) ([]byte, error)

// Defaults of Config.
const (
	DefaultPingEvery    = 30 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxCatchUp   = 1000
	DefaultCoalesce     = 50 * time.Millisecond
	DefaultQueue        = 64
)

// Config is what the Hub needs.
type Config struct {
	// Store is the change feed (any jobs.Store).
	Store Feed
	// Render renders a group of changes (RenderJSON when nil).
	Render RenderFunc
	// Notice renders hello and reload messages (NoticeJSON when nil).
	Notice NoticeFunc
	Log    *slog.Logger // slog.Default() when nil
	// Clock times connections for the logs (the system clock when nil).
	// Network deadlines and the coalescing window run on the wall clock:
	// the network compares deadlines with it.
	Clock jobs.Clock
	// PingEvery is how often the server pings; a client that answers no
	// ping for PingEvery+WriteTimeout is dropped (DefaultPingEvery).
	PingEvery time.Duration
	// WriteTimeout bounds each write to a client; a client that takes
	// longer is dropped (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxCatchUp is the most missed changes a reconnecting page is sent;
	// beyond it the page is told to reload (DefaultMaxCatchUp).
	MaxCatchUp int
	// Coalesce is the most a change waits for others to share its message
	// (DefaultCoalesce). A lone change waits a tenth of it.
	Coalesce time.Duration
	// Queue is how many messages may wait for a client; a client that
	// falls further behind is dropped, to reconnect and catch up
	// (DefaultQueue, and never less than a full catch-up needs).
	Queue int
	// TrustProxy believes X-Forwarded-Proto when deciding whether the page
	// was served over TLS (the Origin check). Only set it behind a proxy
	// that sets it.
	TrustProxy bool
}

// Hub serves the live channel and keeps track of its connections.
type Hub struct {
	cfg Config

	// ctx ends when the Hub closes; every connection's context is ended
	// with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // one per request being served

	conns atomic.Int64
}

// New returns a Hub. It panics without a Store, a programming error.
func New(cfg Config) *Hub {
	if cfg.Store == nil {
		panic("live: Config.Store is required")
	}
	if cfg.Render == nil {
		cfg.Render = RenderJSON
	}
	if cfg.Notice == nil {
		cfg.Notice = NoticeJSON
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = jobs.SystemClock{}
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = DefaultPingEvery
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = DefaultMaxCatchUp
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = DefaultCoalesce
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	// A catch-up is queued at once: hello, its messages and a spare.
	cfg.Queue = max(cfg.Queue, (cfg.MaxCatchUp+maxGroup-1)/maxGroup+2)
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, ctx: ctx, cancel: cancel}
}

// Conns is the number of open connections.
func (h *Hub) Conns() int { return int(h.conns.Load()) }

// Close closes every connection (telling the pages the server is going
// away) and returns when all of them, and everything they started, have
// ended. Handshakes after Close answer 503. http.Server.Shutdown does not
// wait for WebSockets: call Close when shutting down.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// enter counts a request in, unless the Hub is closed.
func (h *Hub) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// Head returns the seq of the user's latest change, 0 when they have none.
// A page that renders with since=Head, read before it reads what it shows,
// misses no change.
//
// The feed only answers "the first change after seq", so Head probes it:
// from the user's first change it gallops forward in doubling steps until
// a probe finds nothing after it, then bisects between the last change
// found and that probe. Each probe reads at most one row, and the number
// of probes grows with the logarithm of the seq range, not with the
// user's history.
func (h *Hub) Head(ctx context.Context, userID string) (int64, error) {
	next := func(after int64) (int64, bool, error) {
		cs, err := h.cfg.Store.ChangesSince(ctx, userID, after, 1)
		if err != nil || len(cs) == 0 {
			return 0, false, err
		}
		return cs[0].Seq, true, nil
	}
	lo, ok, err := next(0)
	if err != nil || !ok {
		return 0, err
	}
	// lo is always one of the user's seqs, at most the head; hi at least
	// the head once a probe found nothing after it.
	hi := int64(-1)
	for step := int64(64); hi < 0; step *= 2 {
		probe := int64(math.MaxInt64)
		if step < math.MaxInt64-lo {
			probe = lo + step
		}
		c, ok, err := next(probe)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			hi = probe
		case probe == math.MaxInt64:
			return 0, errors.New("live: change feed answered past the largest seq")
		default:
			lo = c
		}
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		c, ok, err := next(mid)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			hi = mid
		default:
			lo = c
		}
	}
	return lo, nil
}

// catchUp reads the changes a page missed after since: at most
// MaxCatchUp+1 of them, so that the caller knows when there were more.
// known is false when the feed does not hold the change since itself: a
// seq from another database, or a change deleted with its batch.
func (h *Hub) catchUp(ctx context.Context, userID string, since int64) (missed []jobs.Change, known bool, err error) {
	want := h.cfg.MaxCatchUp + 2 // the change since, the missed ones and one more
	var got []jobs.Change
	after := since - 1
	for len(got) < want {
		page, err := h.cfg.Store.ChangesSince(ctx, userID, after, min(want-len(got), feedPage))
		if err != nil {
			return nil, false, err
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	if len(got) == 0 || got[0].Seq != since {
		return nil, false, nil
	}
	return got[1:], true, nil
}

// feedPage is the most changes asked of the feed at once.
const feedPage = 1000

// maxGroup is the most changes one message carries.
const maxGroup = 200

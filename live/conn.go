package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"omtx/jobs"
	"omtx/origin"
)

// Limits of a connection.
const (
	// maxRead bounds a message from the client; the page sends none.
	maxRead = 1 << 10
	// closeWait bounds the write of the closing frame.
	closeWait = time.Second
)

// Handler serves the live channel at the route it is mounted on. userOf
// reads the signed-in user from the request.
//
// The handshake answers 403 when the Origin header is missing or names
// another site than the request's own (scheme and host), 401 without a
// user, 400 for a since that is not a seq, and 503 once the Hub is closed.
func (h *Hub) Handler(userOf func(*http.Request) (string, bool)) http.Handler {
	up := &websocket.Upgrader{
		ReadBufferSize:  maxRead,
		WriteBufferSize: 4 << 10,
		WriteBufferPool: &sync.Pool{},
		// Checked again here, besides before the user is looked up.
		CheckOrigin: func(r *http.Request) bool { return origin.Same(r, h.cfg.TrustProxy) },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.enter() {
			httpError(w, http.StatusServiceUnavailable, "unavailable", "the server is shutting down")
			return
		}
		defer h.wg.Done()
		if !origin.Same(r, h.cfg.TrustProxy) {
			httpError(w, http.StatusForbidden, "forbidden", "cross-site request refused")
			return
		}
		userID, ok := userOf(r)
		if !ok || userID == "" {
			httpError(w, http.StatusUnauthorized, "unauthorized", "sign in, or send Authorization: Bearer TOKEN")
			return
		}
		since, err := parseSince(r.URL.Query().Get("since"))
		if err != nil {
			httpError(w, http.StatusBadRequest, jobs.ErrInvalid, "since must be a change seq: a whole number, 0 or more")
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		c := &conn{hub: h, userID: userID, ctx: ctx, cancel: cancel,
			log: h.cfg.Log.With("user_id", userID), start: h.cfg.Clock.Now()}
		// Ending the Hub ends the connection.
		stop := context.AfterFunc(h.ctx, func() { c.end(websocket.CloseGoingAway, "server shutting down") })
		defer stop()

		// Read where the stream starts before the handshake, so that a
		// failing store answers with an HTTP error.
		c.since = since
		if since == 0 {
			c.since, err = h.Head(ctx, userID)
			c.known = true
		} else {
			c.missed, c.known, err = h.catchUp(ctx, userID, since)
		}
		if err != nil {
			if ctx.Err() != nil {
				httpError(w, http.StatusServiceUnavailable, "unavailable", "the server is shutting down")
				return
			}
			c.log.Error("live: read the change feed", "err", err)
			httpError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}

		ws, err := up.Upgrade(w, r, nil) // answers the client itself on failure
		if err != nil {
			return
		}
		c.ws = ws
		h.conns.Add(1)
		defer h.conns.Add(-1)
		c.serve()
	})
}

// parseSince reads the query's since: absent is 0.
func parseSince(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("bad since")
	}
	return n, nil
}

// httpError answers a refused handshake in the API's error shape.
func httpError(w http.ResponseWriter, status int, code, message string) {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Error detail `json:"error"`
	}{detail{code, message}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// conn is one page's connection. Three goroutines serve it: the request's
// own (serve: the catch-up and the feed, rendering and queueing), a writer
// (the only one that writes messages, and pings) and a reader (pongs and
// the client's close; anything else is discarded).
type conn struct {
	hub    *Hub
	userID string
	log    *slog.Logger
	start  time.Time
	ws     *websocket.Conn

	// ctx ends the connection: the request's context, ended by the Hub,
	// the reader, or serve.
	ctx    context.Context
	cancel context.CancelFunc

	since  int64         // the stream starts after this seq
	missed []jobs.Change // changes after since, when the page gave it
	known  bool          // since is the head, or a change the feed holds

	// feed is the store's stream of the user's changes, once watched.
	feed <-chan jobs.Change

	// queue holds rendered messages for the writer; serve closes it when
	// the stream ends and what is queued should still be sent.
	queue chan []byte

	mu        sync.Mutex
	closeCode int // 0: no closing frame
	closeText string
	ended     bool
}

// end ends the connection; the first reason given is the one kept, and
// with a code the client is sent a closing frame with it.
func (c *conn) end(code int, text string) {
	c.setReason(code, text)
	c.cancel()
}

// setReason says why the connection will end, unless a reason was given
// already.
func (c *conn) setReason(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		c.ended, c.closeCode, c.closeText = true, code, text
	}
}

// reason returns why the connection ended.
func (c *conn) reason() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		// The request's context ended.
		return websocket.CloseGoingAway, "server shutting down"
	}
	return c.closeCode, c.closeText
}

// errSlow ends a client that cannot keep up.
var errSlow = errors.New("client too slow")

// serve runs a connection until it ends, and everything it started with
// it.
func (c *conn) serve() {
	cfg := c.hub.cfg
	c.queue = make(chan []byte, cfg.Queue)
	c.log.Debug("live: connected", "since", c.since)

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.read()
	}()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write()
	}()

	err := c.stream()
	switch {
	case errors.Is(err, errSlow):
		c.end(0, errSlow.Error())
		c.ws.Close() // unblocks a write the client is not reading
	case err != nil:
		if c.ctx.Err() == nil {
			c.log.Error("live: stream changes", "err", err)
		}
		c.end(websocket.CloseInternalServerErr, "try again")
		close(c.queue)
	default:
		close(c.queue) // the writer sends what is queued, then closes
	}
	select {
	case <-writerDone:
	case <-c.ctx.Done():
		// Ended from outside (the Hub closed, the client went): the writer
		// gets closeWait to finish, then its connection is cut.
		t := time.NewTimer(closeWait)
		select {
		case <-writerDone:
		case <-t.C:
			c.ws.Close()
			<-writerDone
		}
		t.Stop()
	}
	c.cancel()
	c.ws.Close()
	<-readerDone
	if c.feed != nil {
		for range c.feed { // the feed closes once ctx has ended
		}
	}
	code, text := c.reason()
	c.log.Debug("live: disconnected", "code", code, "reason", text, "err", err,
		"duration_ms", c.hub.cfg.Clock.Now().Sub(c.start).Milliseconds())
}

// stream queues the hello and the catch-up, then the changes the feed
// sends, until the connection ends. It returns nil when the stream ended
// normally (the connection's context ended, or the page was told to
// reload).
func (c *conn) stream() error {
	ctx, cfg := c.ctx, c.hub.cfg
	if !c.known || len(c.missed) > cfg.MaxCatchUp {
		msg, err := cfg.Notice(ctx, c.userID, Notice{Type: TypeReload})
		if err != nil {
			return fmt.Errorf("render reload: %w", err)
		}
		// Sent before the closing frame: the writer sends what is queued.
		c.setReason(websocket.CloseNormalClosure, "reload")
		return c.enqueue(msg)
	}
	msg, err := cfg.Notice(ctx, c.userID, Notice{Type: TypeHello, LastSeq: c.since})
	if err != nil {
		return fmt.Errorf("render hello: %w", err)
	}
	if err := c.enqueue(msg); err != nil {
		return err
	}
	last := c.since
	for len(c.missed) > 0 {
		n := min(len(c.missed), maxGroup)
		if err := c.send(c.missed[:n]); err != nil {
			return err
		}
		last = c.missed[n-1].Seq
		c.missed = c.missed[n:]
	}
	c.missed = nil

	ch, err := cfg.Store.Watch(ctx, c.userID, last)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	c.feed = ch

	// Changes that arrive together share a message: after a change, more
	// are gathered while they keep coming, each within quiet of the one
	// before, for at most Coalesce after the first.
	quiet := max(cfg.Coalesce/10, time.Millisecond)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	group := make([]jobs.Change, 0, maxGroup)
	for {
		select {
		case chg, ok := <-ch:
			if !ok {
				return feedEnded(ctx)
			}
			group = append(group, chg)
		case <-ctx.Done():
			return nil
		}
		deadline := time.Now().Add(cfg.Coalesce)
		open := true
	gather:
		for open && len(group) < maxGroup {
			wait := min(quiet, time.Until(deadline))
			if wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case chg, ok := <-ch:
				if !ok {
					open = false
					break gather
				}
				group = append(group, chg)
			case <-timer.C:
				break gather
			case <-ctx.Done():
				return nil
			}
		}
		timer.Stop()
		if err := c.send(group); err != nil {
			return err
		}
		group = group[:0]
		if !open {
			return feedEnded(ctx)
		}
	}
}

// feedEnded is why the stream ends when the feed's channel closed: the
// connection ended, or the store failed.
func feedEnded(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("the change feed ended")
}

// send renders a group of changes and queues the message.
func (c *conn) send(group []jobs.Change) error {
	msg, err := c.hub.cfg.Render(c.ctx, c.userID, group)
	if err != nil {
		return fmt.Errorf("render changes up to seq %d: %w", group[len(group)-1].Seq, err)
	}
	return c.enqueue(msg)
}

// enqueue queues a message for the writer without waiting: a client whose
// queue is full is too slow.
func (c *conn) enqueue(msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	select {
	case c.queue <- msg:
		return nil
	default:
		c.log.Info("live: dropping a client that cannot keep up", "queued", len(c.queue))
		return errSlow
	}
}

// write sends the queued messages and pings until the queue closes (then
// it closes the connection with the reason given) or the connection ends.
func (c *conn) write() {
	cfg := c.hub.cfg
	ping := time.NewTicker(cfg.PingEvery)
	defer ping.Stop()
	for {
		select {
		case msg, ok := <-c.queue:
			if !ok || c.ctx.Err() != nil {
				c.writeClose()
				return
			}
			c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.end(0, "write failed")
				return
			}
		case <-ping.C:
			c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.end(0, "ping failed")
				return
			}
		case <-c.ctx.Done():
			c.writeClose()
			return
		}
	}
}

// writeClose sends the closing frame, if the reason has one.
func (c *conn) writeClose() {
	code, text := c.reason()
	if code == 0 {
		return
	}
	c.ws.SetWriteDeadline(time.Now().Add(min(closeWait, c.hub.cfg.WriteTimeout)))
	c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
}

// read keeps the read deadline moving with the client's pongs and
// discards anything else the client sends, until the connection fails or
// the client closes it.
func (c *conn) read() {
	cfg := c.hub.cfg
	wait := cfg.PingEvery + cfg.WriteTimeout
	c.ws.SetReadLimit(maxRead)
	c.ws.SetReadDeadline(time.Now().Add(wait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(wait))
	})
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseMessageTooBig) || errors.Is(err, websocket.ErrReadLimit) {
				c.end(websocket.CloseMessageTooBig, "the page sends nothing")
			} else {
				// The client closed, vanished, or answered no ping: gorilla
				// answers a closing frame itself.
				c.end(0, "client gone")
			}
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			c.end(websocket.CloseMessageTooBig, "the page sends nothing")
			return
		}
	}
}

package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"omtx/jobs"
	"omtx/jobs/sqlite"
	"omtx/live"
)

// budget is how long a committed change may take to reach an open page.
const budget = 250 * time.Millisecond

// readTimeout bounds every wait for a message.
const readTimeout = 2 * time.Second

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jobs.db"), jobs.Config{}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// userHeader names the test's signed-in user; the hub's routes read the
// session cookie or bearer token instead.
const userHeader = "X-Test-User"

func userOf(r *http.Request) (string, bool) {
	u := r.Header.Get(userHeader)
	return u, u != ""
}

// env is a hub served over HTTP with a real store behind it.
type env struct {
	store *sqlite.Store
	hub   *live.Hub
	srv   *httptest.Server
	// dialer, when set, connects the pages.
	dialer *websocket.Dialer
}

func newEnv(t *testing.T, cfg live.Config) *env {
	t.Helper()
	return newEnvOn(t, cfg, nil)
}

// newEnvOn serves the hub on ln (a new listener when nil).
func newEnvOn(t *testing.T, cfg live.Config, ln net.Listener) *env {
	t.Helper()
	e := &env{store: openStore(t)}
	cfg.Store = e.store
	e.hub = live.New(cfg)
	e.srv = httptest.NewUnstartedServer(e.hub.Handler(userOf))
	if ln != nil {
		e.srv.Listener.Close()
		e.srv.Listener = ln
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.hub.Close) // before the server closes
	return e
}

func (e *env) origin() string { return e.srv.URL }

func (e *env) dialWith(user, query, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if user != "" {
		h.Set(userHeader, user)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	if query != "" {
		u += "?" + query
	}
	d := websocket.Dialer{HandshakeTimeout: readTimeout}
	if e.dialer != nil {
		d = *e.dialer
	}
	ws, resp, err := d.Dial(u, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return ws, resp, err
}

// dial connects user's page with since (0: from now) and reads its hello.
func (e *env) dial(t *testing.T, user string, since int64) (*websocket.Conn, live.Message) {
	t.Helper()
	ws, _, err := e.dialWith(user, fmt.Sprintf("since=%d", since), e.origin())
	if err != nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	t.Cleanup(func() { ws.Close() })
	hello := read(t, ws)
	if hello.Type != live.TypeHello {
		t.Fatalf("first message %+v, want hello", hello)
	}
	return ws, hello
}

func read(t *testing.T, ws *websocket.Conn) live.Message {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(readTimeout))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m live.Message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("message %q: %v", data, err)
	}
	return m
}

// readChanges reads messages until n changes have come, checking that
// every message carries the seq of its last change.
func readChanges(t *testing.T, ws *websocket.Conn, n int) []live.MessageChange {
	t.Helper()
	var got []live.MessageChange
	for len(got) < n {
		m := read(t, ws)
		if m.Type != live.TypeChanges || len(m.Changes) == 0 {
			t.Fatalf("message %+v, want changes", m)
		}
		if last := m.Changes[len(m.Changes)-1].Seq; m.LastSeq != last {
			t.Fatalf("last_seq %d, last change %d", m.LastSeq, last)
		}
		got = append(got, m.Changes...)
	}
	if len(got) != n {
		t.Fatalf("%d changes, want %d: %+v", len(got), n, got)
	}
	return got
}

func submit(t *testing.T, s jobs.Store, user string) *jobs.Job {
	t.Helper()
	j, err := s.Submit(context.Background(), jobs.Submission{UserID: user, Model: "vina", Name: "ligand", Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func lease(t *testing.T, s jobs.Store) *jobs.Job {
	t.Helper()
	j, err := s.JobLease(context.Background(), jobs.LeaseParams{Owner: "worker-1", Models: []string{"vina"}, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// expectClose reads until the connection ends and checks its closing
// code.
func expectClose(t *testing.T, ws *websocket.Conn, code int) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(readTimeout))
	for {
		_, data, err := ws.ReadMessage()
		if err == nil {
			t.Fatalf("message %q, want close %d", data, code)
		}
		if !websocket.IsCloseError(err, code) {
			t.Fatalf("read: %v, want close %d", err, code)
		}
		return
	}
}

// eventually waits, boundedly, for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCommitReachesPage: a job's life, committed through the store,
// reaches the open page in order and within the budget.
func TestCommitReachesPage(t *testing.T) {
	// Not parallel: it measures time.
	e := newEnv(t, live.Config{})
	ws, hello := e.dial(t, "alice", 0)
	if hello.LastSeq != 0 {
		t.Fatalf("hello of a user without changes: %+v", hello)
	}
	if n := e.hub.Conns(); n != 1 {
		t.Fatalf("Conns %d, want 1", n)
	}
	ctx := context.Background()
	var worst time.Duration
	timed := func(commit func() string, status jobs.Status) {
		t.Helper()
		start := time.Now()
		id := commit()
		c := readChanges(t, ws, 1)[0]
		lat := time.Since(start)
		worst = max(worst, lat)
		if c.JobID != id || c.Status != status {
			t.Fatalf("change %+v, want %s %s", c, id, status)
		}
		if lat >= budget {
			t.Fatalf("commit to page took %v, budget %v", lat, budget)
		}
	}
	var j *jobs.Job
	timed(func() string { j = submit(t, e.store, "alice"); return j.ID }, jobs.StatusPending)
	timed(func() string { j = lease(t, e.store); return j.ID }, jobs.StatusRunning)
	timed(func() string {
		if err := e.store.JobComplete(ctx, *j.Lease, json.RawMessage(`{"affinity":-7.1}`)); err != nil {
			t.Fatal(err)
		}
		return j.ID
	}, jobs.StatusCompleted)
	for range 5 {
		timed(func() string { return submit(t, e.store, "alice").ID }, jobs.StatusPending)
	}
	t.Logf("worst commit-to-page latency: %v", worst)

	// A new page starts from the head.
	head, err := e.hub.Head(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, hello = e.dial(t, "alice", 0)
	if hello.LastSeq != head || head == 0 {
		t.Fatalf("hello %+v, head %d", hello, head)
	}
}

// TestChangesOfOneCommitShareAMessage: leasing a batch's first child
// changes the child and its batch in one commit: one message.
func TestChangesOfOneCommitShareAMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{Coalesce: 200 * time.Millisecond})
	ws, _ := e.dial(t, "alice", 0)
	b, err := e.store.Submit(context.Background(), jobs.Submission{UserID: "alice", Model: "vina", Name: "screen",
		Input: json.RawMessage(`{}`), Children: []jobs.ChildSubmission{{Name: "a"}, {Name: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := readChanges(t, ws, 1)[0]; c.JobID != b.ID || c.Type != jobs.TypeBatchParent {
		t.Fatalf("change %+v, want the batch", c)
	}
	child := lease(t, e.store)
	m := read(t, ws)
	if len(m.Changes) != 2 {
		t.Fatalf("message %+v, want the child's and the batch's change", m)
	}
	if m.Changes[0].JobID != child.ID || m.Changes[1].JobID != b.ID || m.Changes[0].Seq >= m.Changes[1].Seq {
		t.Fatalf("changes %+v", m.Changes)
	}
}

// TestUsersSeeOnlyTheirOwn: a page gets its user's changes and nobody
// else's.
func TestUsersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{})
	alice, _ := e.dial(t, "alice", 0)
	bob, _ := e.dial(t, "bob", 0)
	var mine []string
	for range 3 {
		mine = append(mine, submit(t, e.store, "alice").ID)
	}
	theirs := submit(t, e.store, "bob").ID
	// Alice's changes were committed first: had they leaked, Bob would
	// read them before his own.
	if got := readChanges(t, bob, 1); got[0].JobID != theirs {
		t.Fatalf("bob got %+v, want only %s", got, theirs)
	}
	var got []string
	for _, c := range readChanges(t, alice, 3) {
		got = append(got, c.JobID)
	}
	if !slices.Equal(got, mine) {
		t.Fatalf("alice got %v, want %v", got, mine)
	}
	// Bob's page has nothing more: the next thing it reads is his.
	next := submit(t, e.store, "bob").ID
	if got := readChanges(t, bob, 1); got[0].JobID != next {
		t.Fatalf("bob got %+v, want %s", got, next)
	}
}

// TestHandshakeRefused: same origin only, a user required.
func TestHandshakeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{})
	host := strings.TrimPrefix(e.srv.URL, "http://")
	for _, tc := range []struct {
		name, user, query, origin string
		status                    int
	}{
		{"no origin", "alice", "", "", http.StatusForbidden},
		{"other site", "alice", "", "http://evil.example", http.StatusForbidden},
		{"other port", "alice", "", "http://127.0.0.1:1", http.StatusForbidden},
		{"other scheme", "alice", "", "https://" + host, http.StatusForbidden},
		{"null origin", "alice", "", "null", http.StatusForbidden},
		{"no user", "", "", e.origin(), http.StatusUnauthorized},
		{"no user, other site", "", "", "http://evil.example", http.StatusForbidden},
		{"bad since", "alice", "since=x", e.origin(), http.StatusBadRequest},
		{"negative since", "alice", "since=-1", e.origin(), http.StatusBadRequest},
	} {
		ws, resp, err := e.dialWith(tc.user, tc.query, tc.origin)
		if err == nil {
			ws.Close()
			t.Errorf("%s: connected, want %d", tc.name, tc.status)
			continue
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v %v, want %d", tc.name, err, resp, tc.status)
		}
	}
	if n := e.hub.Conns(); n != 0 {
		t.Fatalf("Conns %d after refused handshakes", n)
	}
}

// TestTrustProxy: behind a TLS-terminating proxy the page's origin is
// https.
func TestTrustProxy(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	hub := live.New(live.Config{Store: store, TrustProxy: true})
	t.Cleanup(hub.Close)
	h := hub.Handler(userOf)
	for _, tc := range []struct {
		proto, origin string
		status        int
	}{
		{"https", "https://hub.example", http.StatusBadRequest}, // passed the checks; not a WebSocket request
		{"", "https://hub.example", http.StatusForbidden},
		{"https", "http://hub.example", http.StatusForbidden},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://hub.example/ws", nil)
		r.Header.Set("Origin", tc.origin)
		r.Header.Set(userHeader, "alice")
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("proto %q origin %s: %d, want %d", tc.proto, tc.origin, w.Code, tc.status)
		}
	}
}

// TestReconnectCatchesUp: a page that reconnects with the last seq it saw
// gets exactly the changes it missed, in order, then new ones without
// duplicates.
func TestReconnectCatchesUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{})
	ctx := context.Background()
	submit(t, e.store, "bob") // another user's changes interleave
	ws, _ := e.dial(t, "alice", 0)
	submit(t, e.store, "alice")
	last := readChanges(t, ws, 1)[0].Seq
	ws.Close()

	// While the page is away: a job runs and ends, others arrive.
	j := lease(t, e.store)
	submit(t, e.store, "bob")
	submit(t, e.store, "alice")
	if err := e.store.JobComplete(ctx, *j.Lease, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	submit(t, e.store, "alice")
	want, err := e.store.ChangesSince(ctx, "alice", last, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 4 {
		t.Fatalf("missed %d changes, want 4", len(want))
	}

	ws, hello := e.dial(t, "alice", last)
	if hello.LastSeq != last {
		t.Fatalf("hello %+v, want last_seq %d", hello, last)
	}
	got := readChanges(t, ws, len(want))
	for i, c := range got {
		w := want[i]
		if c.Seq != w.Seq || c.JobID != w.JobID || c.Status != w.Status || !c.At.Equal(w.At) {
			t.Fatalf("change %d: %+v, want %+v", i, c, w)
		}
	}
	// Then only what is new.
	next := submit(t, e.store, "alice").ID
	if c := readChanges(t, ws, 1)[0]; c.JobID != next || c.Seq <= got[len(got)-1].Seq {
		t.Fatalf("after the catch-up: %+v, want %s", c, next)
	}

	// Reconnecting with nothing missed gets nothing until something
	// happens.
	ws.Close()
	head, err := e.hub.Head(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ws, _ = e.dial(t, "alice", head)
	next = submit(t, e.store, "alice").ID
	if c := readChanges(t, ws, 1)[0]; c.JobID != next {
		t.Fatalf("after reconnecting at the head: %+v, want %s", c, next)
	}
}

// TestTooMuchMissedReloads: beyond MaxCatchUp missed changes, or with a
// seq the feed does not know, the page is told to reload.
func TestTooMuchMissedReloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{MaxCatchUp: 3})
	ws, _ := e.dial(t, "alice", 0)
	submit(t, e.store, "alice")
	last := readChanges(t, ws, 1)[0].Seq
	ws.Close()

	for range 3 {
		submit(t, e.store, "alice")
	}
	// Exactly MaxCatchUp: caught up.
	ws, _ = e.dial(t, "alice", last)
	got := readChanges(t, ws, 3)
	ws.Close()

	submit(t, e.store, "alice")
	for _, since := range []int64{last, got[len(got)-1].Seq + 1_000_000} {
		ws, _, err := e.dialWith("alice", fmt.Sprintf("since=%d", since), e.origin())
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if m := read(t, ws); m.Type != live.TypeReload {
			t.Fatalf("since %d: %+v, want reload", since, m)
		}
		expectClose(t, ws, websocket.CloseNormalClosure)
	}
}

// TestSlowClientDropped: a page that reads nothing is dropped, and pages
// beside it keep getting their changes in time.
func TestSlowClientDropped(t *testing.T) {
	t.Parallel()
	// Small socket buffers on both ends, so that a page that does not read
	// blocks the server's writes after a few messages.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 64<<10)
	e := newEnvOn(t, live.Config{
		WriteTimeout: 500 * time.Millisecond,
		Queue:        2,
		Render: func(ctx context.Context, userID string, changes []jobs.Change) ([]byte, error) {
			if userID != "slow" {
				return live.RenderJSON(ctx, userID, changes)
			}
			return []byte(strings.Repeat(pad, len(changes))), nil
		},
	}, smallBuffers{ln})
	e.dialer = &websocket.Dialer{HandshakeTimeout: readTimeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(smallBuffer)
			}
			return c, err
		}}
	slow, _ := e.dial(t, "slow", 0)
	fast, _ := e.dial(t, "fast", 0)
	for range 40 {
		submit(t, e.store, "slow")
	}
	for range 3 {
		start := time.Now()
		id := submit(t, e.store, "fast").ID
		if c := readChanges(t, fast, 1)[0]; c.JobID != id {
			t.Fatalf("fast got %+v, want %s", c, id)
		}
		if lat := time.Since(start); lat >= budget {
			t.Fatalf("beside a slow page a change took %v", lat)
		}
	}
	eventually(t, "the slow page to be dropped", func() bool { return e.hub.Conns() == 1 })
	// The slow page finds its connection gone once it reads.
	slow.SetReadDeadline(time.Now().Add(readTimeout))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the slow page's connection is still open: %v", err)
			}
			break
		}
	}
	id := submit(t, e.store, "fast").ID
	if c := readChanges(t, fast, 1)[0]; c.JobID != id {
		t.Fatalf("fast got %+v, want %s", c, id)
	}
}

// smallBuffer is the socket buffer of TestSlowClientDropped.
const smallBuffer = 8 << 10

// smallBuffers gives the connections it accepts small send buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(smallBuffer)
	}
	return c, err
}

// TestKeepalive: a page that answers pings stays; one that does not is
// dropped.
func TestKeepalive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{PingEvery: 20 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	alive, _ := e.dial(t, "alice", 0)
	silent, _ := e.dial(t, "bob", 0)
	silent.SetPingHandler(func(string) error { return nil }) // no pong

	// The silent page is dropped after PingEvery+WriteTimeout, while the
	// other one (its reads answer the pings) stays.
	pings := make(chan struct{}, 100)
	alive.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	var wg sync.WaitGroup
	wg.Add(1)
	var silentErr error
	go func() {
		defer wg.Done()
		silent.SetReadDeadline(time.Now().Add(readTimeout))
		_, _, silentErr = silent.ReadMessage()
	}()
	go func() {
		alive.SetReadDeadline(time.Now().Add(readTimeout))
		alive.ReadMessage() // ends with the test's cleanup
	}()
	wg.Wait()
	var ne interface{ Timeout() bool }
	if silentErr == nil || errors.As(silentErr, &ne) && ne.Timeout() {
		t.Fatalf("silent page: %v, want its connection dropped", silentErr)
	}
	if len(pings) < 3 {
		t.Fatalf("%d pings while the silent page was dropped", len(pings))
	}
	eventually(t, "the silent page to be counted out", func() bool { return e.hub.Conns() == 1 })
}

// TestClientMessages: what a page sends is discarded; a large message
// ends its connection.
func TestClientMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, live.Config{})
	ws, _ := e.dial(t, "alice", 0)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"hello":"server"}`)); err != nil {
		t.Fatal(err)
	}
	id := submit(t, e.store, "alice").ID
	if c := readChanges(t, ws, 1)[0]; c.JobID != id {
		t.Fatalf("got %+v, want %s", c, id)
	}
	// The server may close the connection while the big message is still
	// being written: then the write fails, and the connection is gone all
	// the same; otherwise the close says why.
	if err := ws.WriteMessage(websocket.TextMessage, make([]byte, 64<<10)); err == nil {
		expectClose(t, ws, websocket.CloseMessageTooBig)
	}
	eventually(t, "the connection to end", func() bool { return e.hub.Conns() == 0 })
}

// TestRequestContextEnds: ending the request's context closes its
// connection.
func TestRequestContextEnds(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	hub := live.New(live.Config{Store: store})
	t.Cleanup(hub.Close)
	cancels := make(chan context.CancelFunc, 1)
	h := hub.Handler(userOf)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		cancels <- cancel
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	e := &env{store: store, hub: hub, srv: srv}
	ws, _ := e.dial(t, "alice", 0)
	(<-cancels)()
	expectClose(t, ws, websocket.CloseGoingAway)
	eventually(t, "the connection to end", func() bool { return hub.Conns() == 0 })
}

// TestCloseEndsEverything: Close tells every page the server is going
// away and returns when nothing it started is left running.
func TestCloseEndsEverything(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	store := openStore(t)
	srvHandler := &handlerSlot{}
	srv := httptest.NewServer(srvHandler)
	defer srv.Close()
	baseline := runtime.NumGoroutine()

	hub := live.New(live.Config{Store: store})
	srvHandler.set(hub.Handler(userOf))
	e := &env{store: store, hub: hub, srv: srv}
	var pages []*websocket.Conn
	for _, u := range []string{"alice", "alice", "bob"} {
		ws, _ := e.dial(t, u, 0)
		pages = append(pages, ws)
	}
	submit(t, store, "alice")
	readChanges(t, pages[0], 1)
	readChanges(t, pages[1], 1)
	if n := hub.Conns(); n != 3 {
		t.Fatalf("Conns %d, want 3", n)
	}

	hub.Close()
	if n := hub.Conns(); n != 0 {
		t.Fatalf("Conns %d after Close", n)
	}
	for _, ws := range pages {
		expectClose(t, ws, websocket.CloseGoingAway)
		ws.Close()
	}
	if _, resp, err := e.dialWith("alice", "", e.origin()); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Close: %v %v, want 503", err, resp)
	}
	srv.CloseClientConnections()
	eventually(t, "the hub's goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline })
}

// handlerSlot lets a test start its server before it builds the handler.
type handlerSlot struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *handlerSlot) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *handlerSlot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

// TestHead: the latest seq of one user among others', 0 for none.
func TestHead(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	hub := live.New(live.Config{Store: store})
	t.Cleanup(hub.Close)
	ctx := context.Background()
	check := func(user string) {
		t.Helper()
		var want int64
		for after := int64(0); ; {
			cs, err := store.ChangesSince(ctx, user, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) == 0 {
				break
			}
			want, after = cs[len(cs)-1].Seq, cs[len(cs)-1].Seq
		}
		got, err := hub.Head(ctx, user)
		if err != nil || got != want {
			t.Fatalf("Head(%s) = %d, %v; want %d", user, got, err, want)
		}
	}
	check("alice")
	for i := range 300 {
		submit(t, store, "bob")
		if i%7 == 0 || i == 150 {
			submit(t, store, "alice")
		}
		if i == 0 || i == 150 {
			check("alice")
		}
	}
	check("alice")
	check("bob")
	check("carol")
}

// TestMountedOnEcho: the handler works behind echo.WrapHandler, as the
// router mounts it.
func TestMountedOnEcho(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	hub := live.New(live.Config{Store: store})
	router := echo.New()
	router.GET("/ws", echo.WrapHandler(hub.Handler(userOf)))
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Close)
	e := &env{store: store, hub: hub, srv: srv}
	ws, _ := e.dial(t, "alice", 0)
	id := submit(t, store, "alice").ID
	if c := readChanges(t, ws, 1)[0]; c.JobID != id {
		t.Fatalf("got %+v, want %s", c, id)
	}
}

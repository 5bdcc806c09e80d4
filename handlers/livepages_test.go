package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gorilla/websocket"

	"omtx/api"
	"omtx/handlers"
	"omtx/jobs"
	"omtx/live"
	"omtx/results"
	"omtx/static"
)

// storeFeed is the live hub's feed: the env's store, set once newEnv has
// opened it and before any socket connects.
type storeFeed struct{ live.Feed }

// newLiveEnv is an env whose pages are live as main.go wires them: a live
// hub over the store rendering with handlers.LiveRenderer and
// handlers.LiveNotice, and LiveHead. svc is the hub service the renderer
// reads through.
func newLiveEnv(t *testing.T, tweak ...func(*handlers.Deps)) (*env, handlers.Service) {
	t.Helper()
	feed := &storeFeed{}
	var svc handlers.Service
	e := newEnv(t, append([]func(*handlers.Deps){func(d *handlers.Deps) {
		svc = d.Service
		h := live.New(live.Config{Store: feed, Render: handlers.LiveRenderer(d.Service), Notice: handlers.LiveNotice, Log: d.Log, Clock: d.Clock})
		t.Cleanup(h.Close)
		d.Live = h.Handler(handlers.RequestUser)
		d.LiveHead = h.Head
	}}, tweak...)...)
	feed.Feed = e.store
	return e, svc
}

// completeOne leases the next job of batchID and completes it with a
// Vina result of the given affinity; it returns the job's id.
func (e *env) completeOne(batchID string, affinity float64) string {
	e.t.Helper()
	ctx := context.Background()
	j, err := e.store.JobLease(ctx, jobs.LeaseParams{Owner: "live-test", Models: e.modelNs, TTL: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	if j.BatchID != batchID {
		e.t.Fatalf("leased job %s of batch %q, want one of %s", j.ID, j.BatchID, batchID)
	}
	key, err := results.JobKey(j.BatchID, j.ID, results.FileStructure)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.res.Put(ctx, key, strings.NewReader("data_complex\n"), ""); err != nil {
		e.t.Fatal(err)
	}
	summary, _ := json.Marshal(results.JobSummary{
		Metrics: map[string]float64{"affinity": affinity, "ligand_efficiency": -affinity / 30},
		Primary: "affinity", Files: []string{results.FileStructure},
	})
	if err := e.store.JobComplete(ctx, *j.Lease, summary); err != nil {
		e.t.Fatal(err)
	}
	return j.ID
}

// fragment parses a live message (result rows come inside a template,
// which the parser keeps as the template's children).
func fragment(t *testing.T, msg []byte) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(msg)))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// changesOf reads a user's whole change feed.
func (e *env) changesOf(user string) []jobs.Change {
	e.t.Helper()
	cs, err := e.store.ChangesSince(context.Background(), e.users[user].ID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

// TestLiveRendererProgress: a batch's changes become its status badge,
// progress and actions, swapped out of band by their ids, with the last
// seq on the live indicator; the same changes rendered for another user
// show nothing of the batch (every read is the user's own).
func TestLiveRendererProgress(t *testing.T) {
	t.Parallel()
	e, svc := newLiveEnv(t)
	id := e.submit(alice, dockingBatch("live screen", aspirin, caffeine, ibuprofen))
	e.completeOne(id, -9.4)
	render := handlers.LiveRenderer(svc)
	changes := e.changesOf(alice)
	last := changes[len(changes)-1].Seq

	msg, err := render(context.Background(), e.users[alice].ID, changes)
	if err != nil {
		t.Fatal(err)
	}
	doc := fragment(t, msg)
	status := doc.Find("#live-status")
	if status.AttrOr("hx-swap-oob", "") != "true" || status.AttrOr("data-live-seq", "") != itoa(last) || status.AttrOr("data-state", "") != "live" {
		t.Errorf("live indicator: %s", msg)
	}
	prog := doc.Find("#batch-" + id + "-progress")
	if prog.AttrOr("hx-swap-oob", "") != "true" || prog.AttrOr("data-testid", "") != "batch-progress" {
		t.Fatalf("no progress fragment for the batch: %s", msg)
	}
	if got := prog.Find(testid("batch-progress-text")).Text(); got != "1 of 3 done (33.3%)" {
		t.Errorf("progress text %q", got)
	}
	if v := prog.Find("progress").AttrOr("value", ""); v != "33" {
		t.Errorf("progress value %q", v)
	}
	badge := doc.Find("#batch-" + id + "-status")
	if badge.AttrOr("hx-swap-oob", "") != "true" || badge.Find(testid("batch-status")).Text() != "Running" {
		t.Errorf("status fragment: %s", msg)
	}
	if doc.Find("#batch-"+id+"-actions "+testid("batch-cancel")).Length() != 1 {
		t.Errorf("My batches' actions: %s", msg)
	}
	if doc.Find(testid("result-row")).Length() != 0 {
		t.Errorf("My batches gets no rows: %s", msg)
	}

	// bob's renderer, given alice's changes, reads nothing of hers.
	leak, err := render(context.Background(), e.users[bob].ID, changes)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(leak), id) || strings.Contains(string(leak), "live screen") || fragment(t, leak).Find(testid("batch-progress")).Length() != 0 {
		t.Errorf("another user's batch rendered: %s", leak)
	}
}

// TestLiveRendererSingleJob: on My batches a single job's change becomes
// its entry's status, progress and actions (delete once it ended); a
// batch's results page gets nothing of it.
func TestLiveRendererSingleJob(t *testing.T) {
	t.Parallel()
	e, svc := newLiveEnv(t)
	id := e.predict(alice, imatinib)
	e.runAll(id)
	render := handlers.LiveRenderer(svc)
	msg, err := render(context.Background(), e.users[alice].ID, e.changesOf(alice))
	if err != nil {
		t.Fatal(err)
	}
	doc := fragment(t, msg)
	if got := doc.Find("#batch-" + id + "-status " + testid("batch-status")).Text(); got != "Completed" {
		t.Errorf("single job status %q: %s", got, msg)
	}
	if got := doc.Find("#batch-" + id + "-progress " + testid("batch-progress-text")).Text(); got != "1 of 1 done (100%)" {
		t.Errorf("single job progress %q", got)
	}
	actions := doc.Find("#batch-" + id + "-actions")
	if href := actions.Find(testid("batch-open")).AttrOr("href", ""); href != "/jobs/"+id {
		t.Errorf("single job opens %q", href)
	}
	if del := actions.Find(testid("batch-delete")).AttrOr("hx-delete", ""); del != api.Prefix+"/jobs/"+id {
		t.Errorf("single job deletes through %q", del)
	}
	leak, err := render(context.Background(), e.users[bob].ID, e.changesOf(alice))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(leak), id) {
		t.Errorf("another user's job rendered: %s", leak)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// newTestServer serves the env over a real listener.
func newTestServer(t *testing.T, e *env) string {
	t.Helper()
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// dialPage opens the WebSocket a page of srv connects to, as the signed-in
// browser, with the server's own Origin.
func dialPage(t *testing.T, srvURL, wsPath string, b browser) *websocket.Conn {
	t.Helper()
	h := http.Header{"Origin": {srvURL}, "Cookie": {b.cookie.String()}}
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srvURL, "http")+wsPath, h)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", wsPath, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntil reads messages until one contains want, by the deadline.
func readUntil(t *testing.T, c *websocket.Conn, want string, deadline time.Time) []byte {
	t.Helper()
	c.SetReadDeadline(deadline)
	var seen []string
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("no message with %q by the deadline (%v); got %q", want, err, seen)
		}
		if strings.Contains(string(msg), want) {
			return msg
		}
		seen = append(seen, string(msg))
	}
}

// TestLivePageEndToEnd: a batch's results page connects to the socket
// it names (since the head it read first); a child completing in the
// store reaches the page within 250 ms as the new progress and the row
// (same components as the page: ids, badge, affinity, triage class); a
// reconnect from the last seq the page saw catches up on what it missed;
// a seq the feed does not know gets the reload notice.
func TestLivePageEndToEnd(t *testing.T) {
	t.Parallel()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := newLiveEnv(t, func(d *handlers.Deps) { d.Assets = assets })
	srv := newTestServer(t, e)
	id := e.submit(alice, dockingBatch("live screen", aspirin, caffeine, ibuprofen))
	a := e.browser(alice)

	page := html(t, e.get(&a, "/batch-results/"+id, false), http.StatusOK)
	conn := page.Find(testid("live"))
	wsPath := conn.AttrOr("ws-connect", "")
	head := e.changesOf(alice)
	if want := "/ws?batch=" + id + "&since=" + itoa(head[len(head)-1].Seq); wsPath != want || conn.AttrOr("hx-ext", "") != "ws,live-oob" {
		t.Fatalf("ws-connect %q, want %q", wsPath, want)
	}
	if page.Find(`script[src="`+assets.URL("vendor/htmx-ext-ws/ws.min.js")+`"]`).Length() != 1 {
		t.Error("the live page does not load htmx's ws extension")
	}
	if page.Find("#batch-"+id+"-progress "+testid("batch-progress-text")).Text() != "0 of 3 done (0%)" || page.Find("#live-status").AttrOr("data-state", "") != "off" {
		t.Error("the page's own progress and indicator")
	}

	ws := dialPage(t, srv, wsPath, a)
	hello := fragment(t, readUntil(t, ws, `data-state="live"`, time.Now().Add(5*time.Second)))
	if hello.Find("#live-status").AttrOr("data-live-seq", "") != itoa(head[len(head)-1].Seq) {
		t.Errorf("hello seq %q", hello.Find("#live-status").AttrOr("data-live-seq", ""))
	}

	start := time.Now()
	job := e.completeOne(id, -9.4)
	msg := readUntil(t, ws, "1 of 3 done", start.Add(250*time.Millisecond))
	t.Logf("the completion reached the page in %v", time.Since(start))
	doc := fragment(t, msg)
	if got := doc.Find("#batch-" + id + "-progress[hx-swap-oob=true] " + testid("batch-progress-text")).Text(); got != "1 of 3 done (33.3%)" {
		t.Errorf("progress %q in %s", got, msg)
	}
	row := doc.Find(testid("live-rows") + " tr#row-" + job)
	if row.AttrOr("hx-swap-oob", "") != "true" || row.Find(testid("result-status")).Text() != "Completed" ||
		row.Find(testid("result-affinity")).Text() != "-9.4" || !row.HasClass("triage-strong") {
		t.Errorf("row fragment: %s", msg)
	}
	if doc.Find(testid("batch-cancel")).Length() != 0 {
		t.Error("the results page gets My batches' actions")
	}
	seq := doc.Find("#live-status").AttrOr("data-live-seq", "")

	// Dropped: what commits meanwhile arrives on reconnecting from the
	// last seq the page saw.
	ws.Close()
	e.completeOne(id, -6.1)
	ws = dialPage(t, srv, "/ws?batch="+id+"&since="+seq, a)
	readUntil(t, ws, "2 of 3 done", time.Now().Add(5*time.Second))

	// A seq the feed does not know: reload.
	ws = dialPage(t, srv, "/ws?batch="+id+"&since=999999", a)
	reload := fragment(t, readUntil(t, ws, "live-reload", time.Now().Add(5*time.Second)))
	if reload.Find("#live-status[hx-swap-oob=true][data-state=stale] a"+testid("live-reload")).Length() != 1 {
		t.Errorf("reload notice")
	}
}

// TestMyBatchesLive: My batches connects since the head; a batch's
// progress, badge and actions are the same components as the page's
// rows, by id; pages work the same without a live channel.
func TestMyBatchesLive(t *testing.T) {
	t.Parallel()
	e, _ := newLiveEnv(t)
	id := e.submit(alice, dockingBatch("live screen", aspirin, caffeine))
	a := e.browser(alice)
	doc := html(t, e.get(&a, "/my-batches", false), http.StatusOK)
	head := e.changesOf(alice)
	if got := doc.Find(testid("live")).AttrOr("ws-connect", ""); got != "/ws?since="+itoa(head[len(head)-1].Seq) {
		t.Errorf("ws-connect %q", got)
	}
	row := doc.Find(testid("batch-row"))
	for _, part := range []string{"status", "progress", "actions"} {
		if row.Find("#batch-"+id+"-"+part).Length() != 1 || row.Find("#batch-"+id+"-"+part).AttrOr("hx-swap-oob", "") != "" {
			t.Errorf("row lacks #batch-%s-%s", id, part)
		}
	}
	if frag := html(t, e.get(&a, "/my-batches", true), http.StatusOK); frag.Find(testid("live")).Length() != 0 {
		t.Error("the htmx fragment opens another socket")
	}

	// Without the live channel: no socket, the same page.
	plain := newEnv(t)
	pid := plain.submit(alice, dockingBatch("plain", aspirin))
	pa := plain.browser(alice)
	pdoc := html(t, plain.get(&pa, "/my-batches", false), http.StatusOK)
	if pdoc.Find(testid("live")).Length() != 0 || pdoc.Find("#batch-"+pid+"-progress").Length() != 1 {
		t.Error("a page without the live channel")
	}
}

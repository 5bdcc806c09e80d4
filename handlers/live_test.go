package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"omtx/live"
)

// TestLiveSocket: a signed-in page of this server opens /ws through the
// whole stack (auth, route table) and receives the user's own changes as
// they commit; another user's socket receives none of them, and a
// handshake from another origin is refused.
func TestLiveSocket(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	dial := func(user, origin string) (*websocket.Conn, *http.Response, error) {
		h := http.Header{"Authorization": {"Bearer " + e.tok[user]}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return websocket.DefaultDialer.Dial(wsURL, h)
	}
	if _, resp, err := dial(alice, "https://elsewhere.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin handshake: %v %v", resp, err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {srv.URL}}); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous handshake: %v %v", resp, err)
	}
	a, _, err := dial(alice, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := dial(bob, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var hello live.Message
	for _, c := range []*websocket.Conn{a, b} {
		if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" {
			t.Fatalf("hello: %+v %v", hello, err)
		}
	}
	id := e.submit(alice, dockingBatch("live", aspirin, caffeine))
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got live.Message
	if err := a.ReadJSON(&got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "changes" || len(got.Changes) == 0 || got.Changes[0].BatchID != id {
		t.Fatalf("alice's socket: %+v", got)
	}
	b.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var leak live.Message
	if err := b.ReadJSON(&leak); err == nil {
		t.Fatalf("bob's socket received alice's change: %+v", leak)
	}
}

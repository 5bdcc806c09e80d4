package live

import (
	"context"
	"encoding/json"
	"time"

	"omtx/jobs"
)

// Types of the JSON messages.
const (
	TypeHello   = "hello"
	TypeChanges = "changes"
	TypeReload  = "reload"
)

// Notice is a message that is not changes.
type Notice struct {
	// Type is TypeHello or TypeReload.
	Type string
	// LastSeq is, for a hello, the seq the stream starts after: the page's
	// since, or the user's latest change when it connected with none.
	LastSeq int64
}

// Message is the JSON the default renderers send, for clients to decode:
//
//	{"type":"hello","last_seq":N}
//	{"type":"changes","changes":[{"seq","job_id","batch_id","type","status","at"}],"last_seq":N}
//	{"type":"reload"}
type Message struct {
	Type    string          `json:"type"`
	Changes []MessageChange `json:"changes,omitempty"`
	LastSeq int64           `json:"last_seq,omitempty"`
}

// MessageChange is one change in a Message.
type MessageChange struct {
	Seq     int64       `json:"seq"`
	JobID   string      `json:"job_id"`
	BatchID string      `json:"batch_id"`
	Type    jobs.Type   `json:"type"`
	Status  jobs.Status `json:"status"`
	At      time.Time   `json:"at"`
}

// changesMessage and helloMessage always write last_seq, even 0.
type (
	changesMessage struct {
		Type    string          `json:"type"`
		Changes []MessageChange `json:"changes"`
		LastSeq int64           `json:"last_seq"`
	}
	helloMessage struct {
		Type    string `json:"type"`
		LastSeq int64  `json:"last_seq"`
	}
	reloadMessage struct {
		Type string `json:"type"`
	}
)

// RenderJSON is the default RenderFunc: a "changes" Message.
func RenderJSON(_ context.Context, _ string, changes []jobs.Change) ([]byte, error) {
	m := changesMessage{Type: TypeChanges, Changes: make([]MessageChange, len(changes))}
	for i, c := range changes {
		m.Changes[i] = MessageChange{Seq: c.Seq, JobID: c.JobID, BatchID: c.BatchID, Type: c.Type, Status: c.Status, At: c.At}
	}
	if len(changes) > 0 {
		m.LastSeq = changes[len(changes)-1].Seq
	}
	return json.Marshal(m)
}

// NoticeJSON is the default NoticeFunc: a "hello" or "reload" Message.
func NoticeJSON(_ context.Context, _ string, n Notice) ([]byte, error) {
	if n.Type == TypeHello {
		return json.Marshal(helloMessage{Type: TypeHello, LastSeq: n.LastSeq})
	}
	return json.Marshal(reloadMessage{Type: n.Type})
}

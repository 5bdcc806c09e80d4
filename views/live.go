package views

import (
	"net/url"
	"strconv"

	"github.com/a-h/templ"

	"omtx/api"
)

// PathLive is the pages' WebSocket.
const PathLive = "/ws"

// Live is a page's live channel: the change seq the page was rendered
// after and, for a batch's results page, the batch. The zero Live (no
// channel configured) renders nothing: the page then updates on reload.
type Live struct {
	// On is false when the server has no live channel.
	On bool
	// Seq is the user's latest change when the page read what it shows:
	// the socket catches up from it.
	Seq int64
	// BatchID scopes the channel to one batch's results page; "" for My
	// batches.
	BatchID string
}

// URL is the WebSocket's address: since the page's seq, and the batch the
// page shows. The page's script moves since forward as messages arrive,
// so that a reconnect catches up from the last message seen.
func (l Live) URL() string {
	q := url.Values{"since": {strconv.FormatInt(l.Seq, 10)}}
	if l.BatchID != "" {
		q.Set(LiveBatchParam, l.BatchID)
	}
	return PathLive + "?" + q.Encode()
}

// LiveBatchParam is the query parameter of PathLive that scopes a socket
// to one batch's results page.
const LiveBatchParam = "batch"

// SeqText is a seq as an attribute value.
func SeqText(seq int64) string { return strconv.FormatInt(seq, 10) }

// Live states of the status indicator (its data-state).
const (
	LiveStateOff   = "off"   // not connected (yet, or any more)
	LiveStateOn    = "live"  // connected and up to date
	LiveStateStale = "stale" // updates were missed: reload
)

// IDs of the elements the live channel swaps out of band.
const LiveStatusID = "live-status"

// BatchStatusID, BatchProgressID and BatchActionsID are the ids of a
// batch's status badge, progress and actions, on My batches and on its
// results page.
func BatchStatusID(batchID string) string   { return "batch-" + batchID + "-status" }
func BatchProgressID(batchID string) string { return "batch-" + batchID + "-progress" }
func BatchActionsID(batchID string) string  { return "batch-" + batchID + "-actions" }

// ResultRowID is the id of a result row.
func ResultRowID(jobID string) string { return "row-" + jobID }

// oob are the attributes that make an element an out-of-band swap in a
// live message; none on the page itself.
func oob(on bool) templ.Attributes {
	if on {
		return templ.Attributes{"hx-swap-oob": "true"}
	}
	return templ.Attributes{}
}

// LiveBatch is one batch's part of a live message: its status and
// progress and, for its results page, the rows that changed.
type LiveBatch struct {
	Batch api.Batch
	// Results renders the changed rows with the results page's columns;
	// nil on My batches.
	Results *ResultsView
	// List adds the batch's actions (My batches).
	List bool
}

// LiveMessage is the HTML a group of changes becomes: the indicator with
// the last seq, then each changed batch's fragments.
type LiveMessage struct {
	LastSeq int64
	Batches []LiveBatch
}

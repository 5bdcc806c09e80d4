package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/a-h/templ"

	"omtx/api"
	"omtx/jobs"
	"omtx/live"
	"omtx/views"
)

// liveScopeKey carries, in a live socket's context, the page it serves.
type liveScopeKey struct{}

// liveScope is the page a socket serves: a batch's results page, or My
// batches when batchID is "".
type liveScope struct {
	batchID string
}

// withLiveScope notes in the socket request's context which page opened
// it (the batch query parameter of views.Live.URL).
func withLiveScope(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, liveScopeKey{}, liveScope{batchID: r.URL.Query().Get(views.LiveBatchParam)})
}

// scopeOf is the page a socket serves; My batches when unknown.
func scopeOf(ctx context.Context) liveScope {
	sc, _ := ctx.Value(liveScopeKey{}).(liveScope)
	return sc
}

// resultsPageMax is the page size the renderer reads the results table
// in, looking for the rows that changed.
const resultsPageMax = 10000

// LiveRenderer renders a group of a user's changes as the HTML fragments
// the pages swap out of band: the live indicator with the last seq, then
// for each batch that changed its status badge, progress and (My
// batches) actions and, for the batch's own results page, the changed
// rows, with the components the pages render them with. Each batch is
// read once through svc, as the user, so that nothing but the user's own
// batches is ever rendered; a batch deleted meanwhile is left out.
// Individual jobs are entries of My batches and update there.
func LiveRenderer(svc Service) live.RenderFunc {
	return func(ctx context.Context, userID string, changes []jobs.Change) ([]byte, error) {
		if len(changes) == 0 {
			return nil, nil
		}
		sc := scopeOf(ctx)
		msg := views.LiveMessage{LastSeq: changes[len(changes)-1].Seq}
		var order []string
		rows := map[string]map[string]bool{} // batch -> changed children
		single := map[string]bool{}          // individual jobs, on My batches
		for _, ch := range changes {
			if ch.BatchID == "" && ch.Type == jobs.TypeIndividual && sc.batchID == "" && !single[ch.JobID] {
				single[ch.JobID] = true
				order = append(order, ch.JobID)
				continue
			}
			if ch.BatchID == "" || (sc.batchID != "" && ch.BatchID != sc.batchID) {
				continue
			}
			if _, seen := rows[ch.BatchID]; !seen {
				order = append(order, ch.BatchID)
				rows[ch.BatchID] = map[string]bool{}
			}
			if ch.Type == jobs.TypeBatchChild {
				rows[ch.BatchID][ch.JobID] = true
			}
		}
		for _, id := range order {
			get := svc.BatchGet
			if single[id] {
				get = svc.JobEntry
			}
			b, err := get(ctx, userID, id)
			if jobs.IsCode(err, jobs.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("live: read batch %s: %w", id, err)
			}
			lb := views.LiveBatch{Batch: *b, List: sc.batchID == ""}
			if sc.batchID != "" && len(rows[id]) > 0 {
				rv, err := changedRows(ctx, svc, userID, *b, rows[id])
				if jobs.IsCode(err, jobs.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				lb.Results = rv
			}
			msg.Batches = append(msg.Batches, lb)
		}
		return renderHTML(ctx, views.LiveChanges(msg))
	}
}

// changedRows reads the batch's results table through the hub, in input
// order, until it has found the changed children, and returns their rows
// with the table's columns.
func changedRows(ctx context.Context, svc Service, userID string, b api.Batch, want map[string]bool) (*views.ResultsView, error) {
	rv := &views.ResultsView{Batch: b}
	var found []api.ResultRow
	for page := 1; ; page++ {
		res, err := svc.Results(ctx, userID, b.BatchID, api.ResultsQuery{Sort: views.SortIndex, Order: "asc", Page: page, PageSize: resultsPageMax})
		if err != nil {
			return nil, fmt.Errorf("live: read the results of batch %s: %w", b.BatchID, err)
		}
		if page == 1 {
			rv.Results = *res
		}
		for _, r := range res.Rows {
			if want[r.JobID] {
				found = append(found, r)
			}
		}
		if len(found) == len(want) || page >= res.TotalPages {
			break
		}
	}
	rv.Results.Rows = found
	return rv, nil
}

// LiveNotice renders the live channel's notices for the pages: a hello
// marks the page live from its seq; a reload tells the scientist that
// updates were missed, with a link that reloads the page.
func LiveNotice(ctx context.Context, _ string, n live.Notice) ([]byte, error) {
	if n.Type == live.TypeHello {
		return renderHTML(ctx, views.LiveHello(n.LastSeq))
	}
	return renderHTML(ctx, views.LiveReload())
}

// renderHTML renders a component to bytes.
func renderHTML(ctx context.Context, c templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return nil, fmt.Errorf("live: render: %w", err)
	}
	return buf.Bytes(), nil
}

package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omtx/api"
	"omtx/jobs"
	"omtx/views"
)

// Headers htmx sends with its requests.
const (
	headerHXRequest = "HX-Request"
	headerHXBoosted = "HX-Boosted"
)

// isFragment reports whether the request is htmx asking for a part of a
// page; a boosted link or a plain request wants the whole page.
func isFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get(headerHXRequest) == "true" && h.Get(headerHXBoosted) != "true"
}

// render is the one way pages answer: an htmx request gets the fragment,
// any other request the whole page, which contains the same fragment.
// A nil fragment means the page has none.
func render(c echo.Context, status int, page, fragment templ.Component) error {
	comp := page
	if fragment != nil && isFragment(c) {
		comp = fragment
	}
	// Render before answering, so that a failure is still an error page.
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	h := c.Response().Header()
	for k, v := range pageSecurity {
		h.Set(k, v)
	}
	if csp, ok := c.Get(cspKey).(string); ok && csp != "" {
		h.Set("Content-Security-Policy", csp)
	}
	h.Add(echo.HeaderVary, headerHXRequest)
	return c.HTMLBlob(status, buf.Bytes())
}

// shell is the frame of a page for the request's user.
func (s *server) shell(c echo.Context, title, section string) views.Shell {
	sh := views.Shell{Title: title, Section: section}
	if s.Assets != nil {
		sh.Assets = views.AssetURLs{
			CSS:  s.Assets.URL("css/app.css"),
			HTMX: s.Assets.URL("vendor/htmx/htmx.min.js"),
			JS:   s.Assets.URL("js/app.js"),
		}
	}
	if p := userOf(c); p != nil {
		sh.SignedIn, sh.UserName = true, p.user.Name
		if p.session != nil {
			sh.CSRF = p.session.CSRF
		}
	}
	return sh
}

// page wraps a page handler: an anonymous visitor is sent to sign in
// (303) instead of the API's 401.
func (s *server) page(h func(c echo.Context, p *principal) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := userOf(c)
		if p == nil {
			return c.Redirect(http.StatusSeeOther, views.PathSignin)
		}
		return h(c, p)
	}
}

// pageErrors is the outermost middleware of a page: an error of the page
// or of its middleware (a rate limit, a failed session lookup) becomes an
// error page, or the error fragment for htmx, with the status the API
// would answer; never a JSON body or a stack trace. Internal errors are
// logged once, here.
func (s *server) pageErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		status, detail := errorOf(err)
		if status >= http.StatusInternalServerError {
			if errors.Is(err, context.Canceled) {
				return err // the error handler notes the abandoned request
			}
			logOf(c).Error("request failed", "method", c.Request().Method, "route", c.Path(), "err", err)
		}
		ev := errorView(status, detail)
		return render(c, status, views.ErrorPage(s.shell(c, ev.Title, ""), ev), views.ErrorBody(ev))
	}
}

// errorView is what an error page says.
func errorView(status int, d api.ErrorDetail) views.ErrorView {
	ev := views.ErrorView{Status: status, Title: http.StatusText(status), Message: d.Message}
	switch status {
	case http.StatusNotFound:
		ev.Title, ev.Message = "Not found", "There is no such page, or it is not yours to see."
	case http.StatusBadRequest:
		ev.Title = "That request cannot be answered"
	case http.StatusTooManyRequests:
		ev.Title = "Too many requests"
	}
	if status >= http.StatusInternalServerError {
		ev.Title, ev.Message = "Something went wrong", "The page could not be built. Try again in a moment."
	}
	return ev
}

// queryInt reads a positive integer query parameter; anything else is 0,
// which the hub reads as its default.
func queryInt(c echo.Context, name string) int {
	n, err := strconv.Atoi(c.QueryParam(name))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// myBatches is My batches: a page of the user's batches and single jobs,
// filtered, searched and sorted by the store.
func (s *server) myBatches(c echo.Context, p *principal) error {
	f := views.BatchFilter{Status: c.QueryParam("status"), Model: c.QueryParam("model"),
		Query: c.QueryParam("q"), Sort: c.QueryParam("sort")}
	q := f.ListQuery()
	q.Page, q.PageSize = queryInt(c, "page"), queryInt(c, "page_size")
	if q.PageSize == 0 {
		q.PageSize = views.DefaultBatchPageSize
	}
	lv, err := s.live(c, p, "")
	if err != nil {
		return err
	}
	vm := views.BatchesPage{Page: max(q.Page, 1), PageSize: q.PageSize, Filter: f, Now: s.Clock.Now(), Live: lv,
		Models: s.modelNames(c.Request().Context()), Deleted: queryInt(c, "deleted")}
	if p.session != nil {
		vm.CSRF = p.session.CSRF
	}
	list, err := s.Service.BatchList(c.Request().Context(), p.user.ID, q)
	status := http.StatusOK
	switch {
	case err == nil:
		vm.Batches, vm.Page, vm.PageSize, vm.HasMore = list.Batches, list.Page, list.PageSize, list.HasMore
	case jobs.IsCode(err, jobs.ErrInvalid):
		status = http.StatusBadRequest
		_, d := errorOf(err)
		vm.Error = "The list cannot be shown: " + d.Error()
	default:
		return err
	}
	return render(c, status, views.BatchesPageView(s.liveShell(c, "My batches", lv), vm), views.BatchesTable(vm))
}

// modelNames are the models the hub knows, for the model filter.
func (s *server) modelNames(ctx context.Context) []string {
	var names []string
	for _, m := range s.Service.Models(ctx).Models {
		names = append(names, m.Name)
	}
	return names
}

// deleteEntries is My batches' bulk delete. Without confirm=yes it shows
// what the selected ids would delete and what cannot be (still running,
// not found) and changes nothing; with it, it deletes the ended entries
// and goes back to My batches (303), or, if any could not be deleted,
// says which and why. Every id is read as the user: another user's id is
// "not found", as on every page.
func (s *server) deleteEntries(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	form, err := c.FormParams()
	if err != nil {
		return jobs.FieldError("id", "the form cannot be read: %v", err)
	}
	ids := slices.Compact(slices.Sorted(slices.Values(form["id"])))
	switch {
	case len(ids) == 0:
		return jobs.FieldError("id", "select at least one entry to delete")
	case len(ids) > views.MaxBulkDelete:
		return jobs.FieldError("id", "%d entries selected; at most %d at a time", len(ids), views.MaxBulkDelete)
	}
	var vm views.DeletePage
	if p.session != nil {
		vm.CSRF = p.session.CSRF
	}
	for _, id := range ids {
		b, err := s.entry(ctx, p.user.ID, id)
		switch {
		case jobs.IsCode(err, jobs.ErrNotFound):
			vm.Problems = append(vm.Problems, views.DeleteProblem{Name: "A selected entry", Reason: "not found (deleted meanwhile?)"})
		case err != nil:
			return err
		case !views.Deletable(*b):
			vm.Problems = append(vm.Problems, views.DeleteProblem{ID: id, Name: b.JobName,
				Reason: "still " + strings.ToLower(views.StatusLabel(b.Status)) + ": cancel it first and wait until it ends"})
		default:
			vm.Entries = append(vm.Entries, *b)
		}
	}
	if form.Get("confirm") != "yes" {
		return render(c, http.StatusOK, views.DeleteConfirmPage(s.shell(c, vm.Title(), views.SectionBatches), vm), nil)
	}
	var deleted []api.Batch
	for _, b := range vm.Entries {
		del := s.Service.BatchDelete
		if views.IsJob(b) {
			del = s.Service.JobDelete
		}
		err := del(ctx, p.user.ID, b.BatchID)
		if err != nil && !jobs.IsCode(err, jobs.ErrConflict) && !jobs.IsCode(err, jobs.ErrNotFound) {
			return err
		}
		if err != nil {
			_, d := errorOf(err)
			vm.Problems = append(vm.Problems, views.DeleteProblem{ID: b.BatchID, Name: b.JobName, Reason: d.Error()})
			continue
		}
		deleted = append(deleted, b)
	}
	if len(vm.Problems) == 0 {
		return c.Redirect(http.StatusSeeOther, views.PathBatches+"?deleted="+strconv.Itoa(len(deleted)))
	}
	vm.Entries, vm.Done = deleted, true
	return render(c, http.StatusConflict, views.DeleteConfirmPage(s.shell(c, vm.Title(), views.SectionBatches), vm), nil)
}

// entry reads one of the user's batches or single jobs as a list entry.
func (s *server) entry(ctx context.Context, userID, id string) (*api.Batch, error) {
	b, err := s.Service.BatchGet(ctx, userID, id)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return s.Service.JobEntry(ctx, userID, id)
	}
	return b, err
}

// batchResultsPage is a batch's results: the header, downloads and one
// tab: the sorted, filtered, paged table (the default), the top
// performers, or the dashboard; htmx gets the table alone. Another user's
// batch is not found.
func (s *server) batchResultsPage(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	id := c.Param("batch_id")
	tab := views.ParseResultsTab(c.QueryParam("tab"))
	if isFragment(c) {
		tab = views.TabTable
	}
	// The live seq first: whatever changes after it reaches the page.
	lv, err := s.live(c, p, id)
	if err != nil {
		return err
	}
	b, err := s.Service.BatchGet(ctx, p.user.ID, id)
	if err != nil {
		return err
	}
	vm := views.ResultsView{Batch: *b, Now: s.Clock.Now(), Tab: tab, Live: lv}
	status := http.StatusOK
	switch tab {
	case views.TabTable:
		status, err = s.resultsTable(c, p, &vm)
	case views.TabTop:
		vm.Top, err = s.Service.Analytics(ctx, p.user.ID, id)
	case views.TabDashboard:
		err = s.dashboard(ctx, p, &vm)
	case views.TabStructures:
		err = s.structures(c, p, &vm)
	}
	if err != nil {
		return err
	}
	sh := s.liveShell(c, b.JobName, lv)
	s.withDepict(&sh)
	if tab == views.TabStructures && vm.Structures != nil && !vm.Structures.Empty() {
		s.withViewer(c, &sh)
	}
	return render(c, status, views.ResultsPageView(sh, vm), views.ResultsTable(vm))
}

// resultsTable reads the page of the results table the request asks for;
// a query the hub refuses is shown as the table's error state.
func (s *server) resultsTable(c echo.Context, p *principal, vm *views.ResultsView) (int, error) {
	q := api.ResultsQuery{
		Page: queryInt(c, "page"), PageSize: queryInt(c, "page_size"),
		Sort: c.QueryParam("sort"), Order: c.QueryParam("order"), Q: c.QueryParam("q"), Status: c.QueryParam("status"),
	}
	vm.Query = q
	if q.PageSize == 0 {
		q.PageSize = views.DefaultResultsPageSize
	}
	res, err := s.Service.Results(c.Request().Context(), p.user.ID, vm.Batch.BatchID, q)
	switch {
	case err == nil:
		vm.Results = *res
	case jobs.IsCode(err, jobs.ErrInvalid):
		_, d := errorOf(err)
		vm.Error = "The table cannot be shown: " + d.Error()
		return http.StatusBadRequest, nil
	default:
		return 0, err
	}
	return http.StatusOK, nil
}

// structures reads the Structures tab's data: the completed ligands in the
// table's order (its sort and search kept), the one asked for by ?job=
// selected.
func (s *server) structures(c echo.Context, p *principal, vm *views.ResultsView) error {
	q := api.ResultsQuery{Sort: c.QueryParam("sort"), Order: c.QueryParam("order"), Q: c.QueryParam("q")}
	vm.Query = q
	rq := q
	rq.Status, rq.PageSize = "completed", views.MaxStructures
	res, err := s.Service.Results(c.Request().Context(), p.user.ID, vm.Batch.BatchID, rq)
	if jobs.IsCode(err, jobs.ErrInvalid) {
		// An unknown sort or search: fall back to the default order.
		rq = api.ResultsQuery{Status: "completed", PageSize: views.MaxStructures}
		vm.Query = api.ResultsQuery{}
		res, err = s.Service.Results(c.Request().Context(), p.user.ID, vm.Batch.BatchID, rq)
	}
	if err != nil {
		return err
	}
	sv := views.NewStructuresView(vm.Batch.BatchID, *res, vm.Query, c.QueryParam("job"))
	vm.Structures = &sv
	return nil
}

// withDepict adds the 2D depictions' scripts to a page's frame.
func (s *server) withDepict(sh *views.Shell) {
	if s.Assets != nil {
		sh.Assets.Depict = []string{
			s.Assets.URL("vendor/smiles-drawer/smiles-drawer.min.js"),
			s.Assets.URL("js/depict.js"),
		}
	}
}

// withViewer adds the Mol* viewer's assets to a page's frame and relaxes
// the page's Content-Security-Policy as far as the viewer needs.
func (s *server) withViewer(c echo.Context, sh *views.Shell) {
	if s.Assets != nil {
		sh.Assets.ViewerCSS = s.Assets.URL("vendor/molstar/molstar.css")
		sh.Assets.Viewer = []string{s.Assets.URL("vendor/molstar/molstar.js"), s.Assets.URL("js/viewer.js")}
	}
	c.Set(cspKey, viewerCSP)
}

// dashboard reads the dashboard's data: the batch's analytics and its
// best completed rows for the scatter.
func (s *server) dashboard(ctx context.Context, p *principal, vm *views.ResultsView) error {
	a, err := s.Service.Analytics(ctx, p.user.ID, vm.Batch.BatchID)
	if err != nil {
		return err
	}
	d := views.Dashboard{Model: vm.Batch.ModelName, Analytics: *a}
	if a.Affinity.Name != "" {
		rows, err := s.Service.Results(ctx, p.user.ID, vm.Batch.BatchID,
			api.ResultsQuery{Status: "completed", PageSize: views.MaxScatterPoints})
		if err != nil {
			return err
		}
		d.Rows, d.RowsTotal = rows.Rows, rows.Total
		vm.Results.Affinity, vm.Results.Metrics = rows.Affinity, rows.Metrics
	}
	vm.Top, vm.Dashboard = a, &d
	return nil
}

// live is a page's live channel: the user's latest change seq, read
// before the page reads what it shows, so that the socket misses nothing
// the page does not show. The zero Live without a channel.
func (s *server) live(c echo.Context, p *principal, batchID string) (views.Live, error) {
	if s.LiveHead == nil || s.Live == nil || isFragment(c) {
		return views.Live{}, nil
	}
	seq, err := s.LiveHead(c.Request().Context(), p.user.ID)
	if err != nil {
		return views.Live{}, fmt.Errorf("read the live seq: %w", err)
	}
	return views.Live{On: true, Seq: seq, BatchID: batchID}, nil
}

// liveShell is the frame of a live page: with htmx's WebSocket extension
// when the page is live.
func (s *server) liveShell(c echo.Context, title string, lv views.Live) views.Shell {
	sh := s.shell(c, title, views.SectionBatches)
	if lv.On && s.Assets != nil {
		sh.Assets.WS = s.Assets.URL("vendor/htmx-ext-ws/ws.min.js")
	}
	return sh
}

// jobPage is a job's page: an individual job or a batch's child.
// Another user's job is not found.
func (s *server) jobPage(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	j, err := s.Service.JobGet(ctx, p.user.ID, c.Param("job_id"))
	if err != nil {
		return err
	}
	vm := views.JobView{Job: *j, Now: s.Clock.Now()}
	if j.BatchID != "" {
		if vm.Batch, err = s.Service.BatchGet(ctx, p.user.ID, j.BatchID); err != nil {
			return err
		}
	}
	sh := s.shell(c, vm.Title(), views.SectionBatches)
	s.withDepict(&sh)
	if vm.StructureURL() != "" {
		s.withViewer(c, &sh)
	}
	return render(c, http.StatusOK, views.JobPageView(sh, vm), nil)
}

package hub

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// Results table limits.
const (
	defaultPageSize = 50
	maxPageSize     = 10000
	// rowCacheSize is how many batches' tables are kept.
	rowCacheSize = 32
)

// Sort keys of the results table besides the metrics.
const (
	SortAffinity   = "affinity" // the model's primary metric
	SortLigandName = "ligand_name"
	SortIndex      = "index"
	SortStatus     = "status"
)

// table is a batch's results table: every child in input order, built once
// per state of the batch and shared by the requests that read it.
type table struct {
	model      string
	metrics    []results.Metric
	primary    results.Metric
	hasPrimary bool
	rows       []api.ResultRow // in input order
	lower      []string        // lower-case "name\x00smiles" per row, for search

	mu     sync.Mutex
	orders map[string][]int32 // sorted row positions by sort key and order
}

// tableFor returns the batch's table, from the cache while the batch has
// not changed since it was built.
func (s *Service) tableFor(ctx context.Context, b *jobs.Batch) (*table, error) {
	stamp := fmt.Sprintf("%d|%s|%+v|%t", b.UpdatedAt.UnixNano(), b.Status, b.Progress, b.Paused)
	if t := s.rows.get(b.ID, stamp); t != nil {
		return t, nil
	}
	t := &table{model: b.Model, orders: map[string][]int32{}}
	if m, ok := s.models.Get(b.Model); ok {
		info := m.Info()
		t.metrics = info.Metrics
		t.primary, t.hasPrimary = info.Primary()
	}
	if err := t.fill(ctx, s, b); err != nil {
		return nil, err
	}
	s.rows.put(b.ID, stamp, t)
	return t, nil
}

// fill reads the batch's children into the table. Pages are turned into
// rows (decoding each child's input and result) on other goroutines while
// the next page is read.
func (t *table) fill(ctx context.Context, s *Service, b *jobs.Batch) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	add := func(page []*jobs.Job) error {
		start := len(t.rows)
		if start+len(page) > cap(t.rows) { // more children than counted: grow, with no writer running
			wg.Wait()
			t.rows = slices.Grow(t.rows, len(page))
			t.lower = slices.Grow(t.lower, len(page))
		}
		t.rows, t.lower = t.rows[:start+len(page)], t.lower[:start+len(page)]
		rows, lower := t.rows[start:], t.lower[start:]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for i, c := range page {
				rows[i], lower[i] = t.rowOf(c)
			}
		}()
		return nil
	}
	t.rows = make([]api.ResultRow, 0, b.Progress.Total)
	t.lower = make([]string, 0, b.Progress.Total)
	err := s.eachChild(ctx, b.UserID, b.ID, add)
	wg.Wait()
	return err
}

// add appends a child's row.
func (t *table) add(c *jobs.Job) {
	r, l := t.rowOf(c)
	t.rows = append(t.rows, r)
	t.lower = append(t.lower, l)
}

// rowOf is a child's row and its lower-case "name\x00smiles" for search.
func (t *table) rowOf(c *jobs.Job) (api.ResultRow, string) {
	l := ligandOf(c)
	r := api.ResultRow{JobID: c.ID, Index: c.Index, LigandName: l.Name, SMILES: l.SMILES, Status: string(c.Status),
		Error: c.Error, ReusedFrom: c.ReusedFrom}
	if js, ok := summaryOf(c); ok && len(js.Metrics) > 0 {
		r.Metrics = js.Metrics
		if t.hasPrimary {
			if v, ok := js.Metrics[t.primary.Name]; ok {
				r.Affinity = &v
			}
		}
	}
	return r, strings.ToLower(l.Name + "\x00" + l.SMILES)
}

// metric returns the table's metric called name.
func (t *table) metric(name string) (results.Metric, bool) {
	for _, m := range t.metrics {
		if m.Name == name {
			return m, true
		}
	}
	return results.Metric{}, false
}

// resolveSort reads a sort key and order: "affinity" (or nothing) is the
// primary metric, any metric name sorts by that metric, best first unless
// order says otherwise; ligand_name, index and status sort ascending by
// default.
func (t *table) resolveSort(key, order string) (string, string, error) {
	key = strings.TrimSpace(key)
	order = strings.ToLower(strings.TrimSpace(order))
	switch order {
	case "", "asc", "desc":
	default:
		return "", "", jobs.FieldError("order", "must be asc or desc")
	}
	switch key {
	case "":
		key = SortIndex
		if t.hasPrimary {
			key = t.primary.Name
		}
	case SortAffinity:
		if !t.hasPrimary {
			return "", "", jobs.FieldError("sort", "model %s has no primary score to sort by", t.model)
		}
		key = t.primary.Name
	}
	def := "asc"
	if m, ok := t.metric(key); ok {
		if m.Better == results.HigherIsBetter {
			def = "desc"
		}
	} else if key != SortLigandName && key != SortIndex && key != SortStatus {
		names := []string{SortAffinity}
		for _, m := range t.metrics {
			names = append(names, m.Name)
		}
		names = append(names, SortLigandName, SortIndex, SortStatus)
		return "", "", jobs.FieldError("sort", "unknown sort %q (one of %s)", key, strings.Join(names, ", "))
	}
	if order == "" {
		order = def
	}
	return key, order, nil
}

// statusRank orders statuses along the lifecycle.
func statusRank(s string) int {
	for i, st := range jobs.Statuses {
		if string(st) == s {
			return i
		}
	}
	return len(jobs.Statuses)
}

// sorted returns the row positions sorted by key in order: rows without a
// value of a metric come last in either order, ties go by input index.
// Orders are computed once per table.
func (t *table) sorted(key, order string) []int32 {
	id := key + "\x00" + order
	t.mu.Lock()
	defer t.mu.Unlock()
	if o, ok := t.orders[id]; ok {
		return o
	}
	o := make([]int32, len(t.rows))
	for i := range o {
		o[i] = int32(i)
	}
	desc := order == "desc"
	byIndex := func(a, b int32) int { return cmp.Compare(t.rows[a].Index, t.rows[b].Index) }
	flip := func(c int) int {
		if desc {
			return -c
		}
		return c
	}
	if _, isMetric := t.metric(key); isMetric {
		type kv struct {
			v   float64
			ok  bool
			pos int32
		}
		keys := make([]kv, len(t.rows))
		for i := range t.rows {
			r := &t.rows[i]
			keys[i].pos = int32(i)
			if r.Status == string(jobs.StatusCompleted) {
				keys[i].v, keys[i].ok = r.Metrics[key]
			}
		}
		slices.SortFunc(keys, func(a, b kv) int {
			switch {
			case a.ok != b.ok:
				if a.ok {
					return -1
				}
				return 1
			case a.ok && a.v != b.v:
				return flip(cmp.Compare(a.v, b.v))
			}
			return byIndex(a.pos, b.pos)
		})
		for i, k := range keys {
			o[i] = k.pos
		}
	} else {
		slices.SortFunc(o, func(a, b int32) int {
			var c int
			switch key {
			case SortLigandName:
				c = cmp.Or(cmp.Compare(strings.ToLower(t.rows[a].LigandName), strings.ToLower(t.rows[b].LigandName)),
					cmp.Compare(t.rows[a].LigandName, t.rows[b].LigandName))
			case SortStatus:
				c = cmp.Compare(statusRank(t.rows[a].Status), statusRank(t.rows[b].Status))
			}
			if c != 0 {
				return flip(c)
			}
			if key == SortIndex {
				return flip(byIndex(a, b))
			}
			return byIndex(a, b)
		})
	}
	t.orders[id] = o
	return o
}

// Results returns a page of a batch's results table: every child with its
// ligand, status and metrics, the primary metric as affinity (null until
// the child completed), filtered by status and a case-insensitive search of
// name and SMILES, sorted and paged. A page past the end is empty.
func (s *Service) Results(ctx context.Context, userID, batchID string, q api.ResultsQuery) (*api.ResultsPage, error) {
	b, err := s.batch(ctx, userID, batchID)
	if err != nil {
		return nil, err
	}
	status, err := optionalStatus(q.Status)
	if err != nil {
		return nil, err
	}
	t, err := s.tableFor(ctx, b)
	if err != nil {
		return nil, err
	}
	key, order, err := t.resolveSort(q.Sort, q.Order)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(q.PageSize, defaultPageSize, maxPageSize)
	if err != nil {
		return nil, err
	}
	offset, err := pageOffset(q.Page, size)
	if err != nil {
		return nil, err
	}
	search := strings.ToLower(strings.TrimSpace(q.Q))
	digest := queryDigest("results", batchID, key, order, search, string(status))
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, digest)
		if err != nil {
			return nil, err
		}
		offset = c.Offset
	}
	ordered := t.sorted(key, order)
	// A search matches within a name or a SMILES, never across the NUL
	// that separates them in t.lower: one holding a NUL matches nothing.
	across := strings.IndexByte(search, 0) >= 0
	if status != "" || search != "" {
		kept := make([]int32, 0, len(ordered))
		for _, i := range ordered {
			if status != "" && t.rows[i].Status != string(status) {
				continue
			}
			if search != "" && (across || !strings.Contains(t.lower[i], search)) {
				continue
			}
			kept = append(kept, i)
		}
		ordered = kept
	}
	page := &api.ResultsPage{
		BatchID: b.ID, Status: string(b.Status), Model: b.Model, Metrics: apiMetrics(t.metrics),
		Sort: key, Order: order, Page: offset/size + 1, PageSize: size, Total: len(ordered),
		TotalPages: (len(ordered) + size - 1) / size, Rows: []api.ResultRow{},
	}
	if t.hasPrimary {
		page.Affinity = apiMetric(t.primary)
	}
	if offset < len(ordered) {
		end := min(offset+size, len(ordered))
		page.Rows = make([]api.ResultRow, 0, end-offset)
		for _, i := range ordered[offset:end] {
			page.Rows = append(page.Rows, t.rows[i])
		}
		if end < len(ordered) {
			page.NextCursor = encodeCursor(cursor{Offset: end, Query: digest})
		}
	}
	return page, nil
}

// rowCache keeps the tables of the most recently read batches.
type rowCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
}

type cacheEntry struct {
	batchID, stamp string
	t              *table
}

func newRowCache(n int) *rowCache {
	return &rowCache{max: n, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the batch's table if it was built at stamp.
func (c *rowCache) get(batchID, stamp string) *table {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[batchID]
	if !ok {
		return nil
	}
	ce := e.Value.(*cacheEntry)
	if ce.stamp != stamp {
		return nil
	}
	c.order.MoveToFront(e)
	return ce.t
}

func (c *rowCache) put(batchID, stamp string, t *table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[batchID]; ok {
		e.Value = &cacheEntry{batchID, stamp, t}
		c.order.MoveToFront(e)
		return
	}
	c.items[batchID] = c.order.PushFront(&cacheEntry{batchID, stamp, t})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).batchID)
	}
}

func (c *rowCache) forget(batchID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[batchID]; ok {
		c.order.Remove(e)
		delete(c.items, batchID)
	}
}

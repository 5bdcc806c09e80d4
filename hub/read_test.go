package hub

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"omtx/api"
	"omtx/jobs"
)

// screened submits the library against ABL1 and ends every child:
// imatinib -12.8, aspirin -6.1, erlotinib and gefitinib -9.4 (a tie),
// caffeine fails.
func screened(t *testing.T) (*testEnv, string) {
	e := newEnv(t)
	resp := e.submit(caller, vinaBatch(library...))
	if n := e.work("vina", vinaDecide); n != 5 {
		t.Fatalf("worked %d jobs", n)
	}
	return e, resp.BatchID
}

func names(rows []api.ResultRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.LigandName)
	}
	return out
}

func TestResultsSortAndFilter(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	ctx := context.Background()
	for _, tc := range []struct {
		q     api.ResultsQuery
		sort  string
		order string
		want  []string
	}{
		{api.ResultsQuery{}, "affinity", "asc", []string{"imatinib", "erlotinib", "gefitinib", "aspirin", "caffeine"}},
		{api.ResultsQuery{Sort: "affinity", Order: "desc"}, "affinity", "desc", []string{"aspirin", "erlotinib", "gefitinib", "imatinib", "caffeine"}},
		// Higher is better: best first is descending.
		{api.ResultsQuery{Sort: "ligand_efficiency"}, "ligand_efficiency", "desc", []string{"imatinib", "erlotinib", "gefitinib", "aspirin", "caffeine"}},
		{api.ResultsQuery{Sort: "ligand_efficiency", Order: "asc"}, "ligand_efficiency", "asc", []string{"aspirin", "erlotinib", "gefitinib", "imatinib", "caffeine"}},
		{api.ResultsQuery{Sort: "ligand_name"}, "ligand_name", "asc", []string{"aspirin", "caffeine", "erlotinib", "gefitinib", "imatinib"}},
		{api.ResultsQuery{Sort: "ligand_name", Order: "desc"}, "ligand_name", "desc", []string{"imatinib", "gefitinib", "erlotinib", "caffeine", "aspirin"}},
		{api.ResultsQuery{Sort: "index", Order: "desc"}, "index", "desc", []string{"caffeine", "gefitinib", "erlotinib", "aspirin", "imatinib"}},
		{api.ResultsQuery{Sort: "status"}, "status", "asc", []string{"imatinib", "aspirin", "erlotinib", "gefitinib", "caffeine"}},
		{api.ResultsQuery{Status: "failed"}, "affinity", "asc", []string{"caffeine"}},
		{api.ResultsQuery{Q: "TINIB"}, "affinity", "asc", []string{"imatinib", "erlotinib", "gefitinib"}},
		{api.ResultsQuery{Q: "c(=o)o"}, "affinity", "asc", []string{"aspirin"}}, // a SMILES substring
		{api.ResultsQuery{Q: "tinib", Status: "completed", Sort: "affinity", Order: "desc"}, "affinity", "desc", []string{"erlotinib", "gefitinib", "imatinib"}},
	} {
		page, err := e.svc.Results(ctx, "alice", id, tc.q)
		if err != nil {
			t.Fatalf("%+v: %v", tc.q, err)
		}
		if got := names(page.Rows); !slices.Equal(got, tc.want) || page.Sort != tc.sort || page.Order != tc.order || page.Total != len(tc.want) {
			t.Errorf("%+v: %v sorted %s %s, total %d; want %v by %s %s", tc.q, got, page.Sort, page.Order, page.Total, tc.want, tc.sort, tc.order)
		}
	}
	page, err := e.svc.Results(ctx, "alice", id, api.ResultsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Affinity.Name != "affinity" || page.Affinity.Unit != "kcal/mol" || page.Affinity.Better != "lower" || !page.Affinity.Primary {
		t.Fatalf("affinity metric %+v", page.Affinity)
	}
	if len(page.Metrics) != 4 || page.Model != "vina" || page.Status != "completed" || page.BatchID != id {
		t.Fatalf("page %+v", page)
	}
	top, last := page.Rows[0], page.Rows[4]
	if top.Affinity == nil || *top.Affinity != -12.8 || top.Metrics["heavy_atoms"] != 30 || top.Status != "completed" || top.Index != 0 {
		t.Fatalf("top row %+v", top)
	}
	if last.Affinity != nil || last.Status != "failed" || last.Error == "" || last.Metrics != nil {
		t.Fatalf("failed row %+v", last)
	}
	for _, q := range []api.ResultsQuery{{Status: "done"}, {Sort: "speed"}, {Order: "up"}, {Cursor: "!!"}} {
		_, err := e.svc.Results(ctx, "alice", id, q)
		field := map[bool]string{true: "status"}[q.Status != ""]
		switch {
		case q.Sort != "":
			field = "sort"
		case q.Order != "":
			field = "order"
		case q.Cursor != "":
			field = "cursor"
		}
		wantCode(t, err, jobs.ErrInvalid, field)
	}
}

func TestResultsNullsLastWhileRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	resp := e.submit(caller, vinaBatch(library...))
	e.workN("vina", 2, vinaDecide) // imatinib and aspirin (input order within a batch)
	for _, order := range []string{"asc", "desc"} {
		page, err := e.svc.Results(ctx, "alice", resp.BatchID, api.ResultsQuery{Sort: "affinity", Order: order})
		if err != nil {
			t.Fatal(err)
		}
		got := names(page.Rows)
		if page.Rows[0].Affinity == nil || page.Rows[1].Affinity == nil || page.Rows[2].Affinity != nil {
			t.Fatalf("%s: %v: scored rows must come first", order, got)
		}
		if want := []string{"erlotinib", "gefitinib", "caffeine"}; !slices.Equal(got[2:], want) {
			t.Fatalf("%s: rows without a score %v, want %v by index", order, got[2:], want)
		}
		if page.Status != "running" {
			t.Fatalf("status %s", page.Status)
		}
	}
	// The table follows the batch: more results, new rows.
	e.work("vina", vinaDecide)
	page, _ := e.svc.Results(ctx, "alice", resp.BatchID, api.ResultsQuery{})
	if got := names(page.Rows); got[1] != "erlotinib" || page.Status != "completed" {
		t.Fatalf("after the rest: %v (%s)", got, page.Status)
	}
}

func TestResultsPaging(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	ctx := context.Background()
	p1, err := e.svc.Results(ctx, "alice", id, api.ResultsQuery{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p1.Rows); !slices.Equal(got, []string{"imatinib", "erlotinib"}) || p1.TotalPages != 3 || p1.Page != 1 || p1.NextCursor == "" {
		t.Fatalf("page 1: %v %+v", got, p1)
	}
	p2, err := e.svc.Results(ctx, "alice", id, api.ResultsQuery{PageSize: 2, Cursor: p1.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p2.Rows); !slices.Equal(got, []string{"gefitinib", "aspirin"}) || p2.Page != 2 {
		t.Fatalf("page 2: %v", got)
	}
	p3, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{PageSize: 2, Cursor: p2.NextCursor})
	if got := names(p3.Rows); !slices.Equal(got, []string{"caffeine"}) || p3.NextCursor != "" {
		t.Fatalf("page 3: %v, cursor %q", got, p3.NextCursor)
	}
	byPage, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{PageSize: 2, Page: 2})
	if !slices.Equal(names(byPage.Rows), names(p2.Rows)) {
		t.Fatalf("page=2 %v", names(byPage.Rows))
	}
	beyond, err := e.svc.Results(ctx, "alice", id, api.ResultsQuery{PageSize: 2, Page: 9})
	if err != nil || beyond.Rows == nil || len(beyond.Rows) != 0 || beyond.Total != 5 {
		t.Fatalf("past the end: %v %+v", err, beyond)
	}
	// A cursor belongs to its query.
	for _, q := range []api.ResultsQuery{
		{Cursor: p1.NextCursor, Sort: "ligand_name"},
		{Cursor: p1.NextCursor, Order: "desc"},
		{Cursor: p1.NextCursor, Q: "tinib"},
		{Cursor: p1.NextCursor, Status: "completed"},
	} {
		_, err := e.svc.Results(ctx, "alice", id, q)
		wantCode(t, err, jobs.ErrInvalid, "cursor")
	}
	big, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{PageSize: 1 << 20})
	if big.PageSize != 10000 || len(big.Rows) != 5 {
		t.Fatalf("page size %d", big.PageSize)
	}
	def, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{})
	if def.PageSize != 50 {
		t.Fatalf("default page size %d", def.PageSize)
	}
}

func TestAnalytics(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	a, err := e.svc.Analytics(context.Background(), "alice", id)
	if err != nil {
		t.Fatal(err)
	}
	if a.SuccessRate != 0.8 || a.Progress.Completed != 4 || a.Progress.Failed != 1 || a.Progress.Percent != 100 || a.Status != "completed" {
		t.Fatalf("analytics %+v", a)
	}
	if got := names(a.Top); !slices.Equal(got, []string{"imatinib", "erlotinib", "gefitinib", "aspirin"}) {
		t.Fatalf("top %v", got)
	}
	var aff, le *api.MetricStats
	for i := range a.Metrics {
		switch a.Metrics[i].Name {
		case "affinity":
			aff = &a.Metrics[i]
		case "ligand_efficiency":
			le = &a.Metrics[i]
		}
	}
	vals := []float64{-12.8, -6.1, -9.4, -9.4}
	mean := (-12.8 - 6.1 - 9.4 - 9.4) / 4
	var ss float64
	for _, v := range vals {
		ss += (v - mean) * (v - mean)
	}
	near := func(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-9 }
	if aff.Count != 4 || !near(aff.Min, -12.8) || !near(aff.Max, -6.1) || !near(aff.Mean, mean) || !near(aff.Median, -9.4) ||
		!near(aff.Std, math.Sqrt(ss/4)) || aff.Best == nil || aff.Best.LigandName != "imatinib" || aff.Better != "lower" {
		t.Fatalf("affinity stats %+v", aff)
	}
	// Higher is better: the best ligand efficiency is the largest.
	if le.Best == nil || le.Best.LigandName != "imatinib" || !near(le.Max, 12.8/30) || le.Better != "higher" {
		t.Fatalf("ligand efficiency stats %+v", le)
	}
	if len(a.Histogram) != 2 || a.Histogram[0].Low != -12.8 || a.Histogram[1].High != -6.1 ||
		a.Histogram[0].Count != 1 || a.Histogram[1].Count != 3 {
		t.Fatalf("histogram %+v", a.Histogram)
	}
	if a.Affinity.Name != "affinity" {
		t.Fatalf("affinity %+v", a.Affinity)
	}
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	ctx := context.Background()
	d, err := e.svc.Export(ctx, "alice", id, "csv")
	if err != nil {
		t.Fatal(err)
	}
	if d.ContentType != "text/csv; charset=utf-8" || !strings.HasSuffix(d.Name, ".csv") {
		t.Fatalf("download %s %s", d.Name, d.ContentType)
	}
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"index", "job_id", "ligand_name", "smiles", "status", "affinity (kcal/mol)",
		"ligand_efficiency (kcal/mol per heavy atom)", "molecular_weight (g/mol)", "heavy_atoms", "error"}
	if !slices.Equal(recs[0], want) || len(recs) != 6 {
		t.Fatalf("header %q, %d records", recs[0], len(recs))
	}
	if r := recs[1]; r[0] != "0" || r[2] != "imatinib" || r[4] != "completed" || r[5] != "-12.8" || r[7] != "" || r[8] != "30" || r[9] != "" {
		t.Fatalf("row 1 %q", r)
	}
	if r := recs[5]; r[2] != "caffeine" || r[4] != "failed" || r[5] != "" || r[9] != "vina: ligand preparation failed" {
		t.Fatalf("row 5 %q", r)
	}

	// Text cells cannot run as formulas; commas and quotes survive.
	e2 := newEnv(t)
	resp := e2.submit(caller, vinaBatch(
		api.Ligand{Name: "=HYPERLINK(\"http://x\")", SMILES: "CCO"},
		api.Ligand{Name: "+1, \"quoted\"", SMILES: "CCN"},
		api.Ligand{Name: "@SUM", SMILES: "CCC"},
	))
	d, _ = e2.svc.Export(ctx, "alice", resp.BatchID, "CSV")
	buf.Reset()
	d.Write(&buf)
	recs, _ = csv.NewReader(&buf).ReadAll()
	if recs[1][2] != "'=HYPERLINK(\"http://x\")" || recs[2][2] != "'+1, \"quoted\"" || recs[3][2] != "'@SUM" {
		t.Fatalf("escaped names %q %q %q", recs[1][2], recs[2][2], recs[3][2])
	}
	_, err = e.svc.Export(ctx, "alice", id, "xlsx")
	wantCode(t, err, jobs.ErrInvalid, "format")
}

func TestExportJSONAndZIP(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	ctx := context.Background()
	d, err := e.svc.Export(ctx, "alice", id, "json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		BatchID string          `json:"batch_id"`
		Model   string          `json:"model_name"`
		Metrics []api.Metric    `json:"metrics"`
		Rows    []api.ResultRow `json:"rows"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if doc.BatchID != id || doc.Model != "vina" || len(doc.Metrics) != 4 || len(doc.Rows) != 5 ||
		doc.Rows[0].LigandName != "imatinib" || *doc.Rows[0].Affinity != -12.8 || doc.Rows[4].Affinity != nil {
		t.Fatalf("json export %+v", doc)
	}

	d, err = e.svc.Export(ctx, "alice", id, "zip")
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range zr.File {
		files = append(files, f.Name)
	}
	imatinib := doc.Rows[0].JobID
	for _, want := range []string{"imatinib_" + imatinib + "/structure.cif", "imatinib_" + imatinib + "/poses.sdf",
		"imatinib_" + imatinib + "/results.json", "batch_results.csv"} {
		if !slices.Contains(files, want) {
			t.Fatalf("zip lacks %s: %q", want, files)
		}
	}
	if len(files) != 4*3+1 { // caffeine failed: no files
		t.Fatalf("zip holds %d files: %q", len(files), files)
	}
	if zr.File[len(zr.File)-1].Name != "batch_results.csv" {
		t.Fatalf("last file %s", zr.File[len(zr.File)-1].Name)
	}
}

func TestJobFilesAndJobs(t *testing.T) {
	t.Parallel()
	e, id := screened(t)
	ctx := context.Background()
	page, _ := e.svc.Results(ctx, "alice", id, api.ResultsQuery{})
	imatinib := page.Rows[0].JobID
	for _, tc := range []struct{ name, download, ctype string }{
		{"results.json", "results.json", "application/json"},
		{"structure.cif", "structure.cif", "chemical/x-mmcif"},
		{"poses.sdf", "poses.sdf", "chemical/x-mdl-sdfile"},
		{"logs.txt", "logs.txt", "text/plain; charset=utf-8"},
		{"cif", "imatinib_" + imatinib + ".cif", "chemical/x-mmcif"},
	} {
		d, err := e.svc.JobFile(ctx, "alice", id, imatinib, tc.name)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Name != tc.download || d.ContentType != tc.ctype {
			t.Fatalf("%s: %s %s", tc.name, d.Name, d.ContentType)
		}
		var buf bytes.Buffer
		if err := d.Write(&buf); err != nil || buf.Len() == 0 {
			t.Fatalf("%s: %v (%d bytes)", tc.name, err, buf.Len())
		}
	}
	_, err := e.svc.JobFile(ctx, "alice", id, imatinib, "nothing.txt")
	wantCode(t, err, jobs.ErrNotFound, "")
	_, err = e.svc.JobFile(ctx, "alice", id, imatinib, "../../x")
	wantCode(t, err, jobs.ErrInvalid, "name")
	// A child is not an individual job.
	_, err = e.svc.JobFile(ctx, "alice", "", imatinib, "results.json")
	wantCode(t, err, jobs.ErrNotFound, "")

	j, err := e.svc.BatchJobGet(ctx, "alice", id, imatinib)
	if err != nil {
		t.Fatal(err)
	}
	if j.BatchID != id || j.Type != "BATCH_CHILD" || j.LigandName != "imatinib" || j.Metrics["affinity"] != -12.8 ||
		len(j.MetricInfo) != 4 || j.FilesURL != "/api/v3/batches/"+id+"/jobs/"+imatinib+"/files/" ||
		!slices.Contains(j.Files, "structure.cif") || j.ElapsedSeconds != 12.5 || j.StartedAt == nil || j.FinishedAt == nil {
		t.Fatalf("job %+v", j)
	}
	if j2, err := e.svc.JobGet(ctx, "alice", imatinib); err != nil || j2.JobID != imatinib {
		t.Fatalf("job get: %v", err)
	}
	_, err = e.svc.JobGet(ctx, "alice", id) // a batch parent is read as a batch
	wantCode(t, err, jobs.ErrNotFound, "")
	other := e.submit(caller, vinaBatch(library[1]))
	_, err = e.svc.BatchJobGet(ctx, "alice", other.BatchID, imatinib)
	wantCode(t, err, jobs.ErrNotFound, "")

	// A child that reused identical work serves the files of the job it reused.
	again := e.submit(caller, vinaBatch(library[0]))
	p2, _ := e.svc.Results(ctx, "alice", again.BatchID, api.ResultsQuery{})
	reused := p2.Rows[0]
	if reused.ReusedFrom != imatinib || reused.Status != "completed" {
		t.Fatalf("reuse %+v", reused)
	}
	d, err := e.svc.JobFile(ctx, "alice", again.BatchID, reused.JobID, "structure.cif")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	d.Write(&buf)
	if buf.String() != "data_"+imatinib+"\n" {
		t.Fatalf("reused structure %q", buf.String())
	}
	d, _ = e.svc.Export(ctx, "alice", again.BatchID, "zip")
	buf.Reset()
	d.Write(&buf)
	zr, _ := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if len(zr.File) != 4 {
		t.Fatalf("zip of a reused child holds %d files", len(zr.File))
	}

	// An individual job.
	pr, err := e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "ABL1", LigandName: "ethanol", LigandSMILES: "CCO"})
	if err != nil {
		t.Fatal(err)
	}
	e.work("vina", func(string) outcome { return outcome{metrics: map[string]float64{"affinity": -3.2}} })
	ij, err := e.svc.JobGet(ctx, "alice", pr.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if ij.Type != "INDIVIDUAL" || ij.LigandName != "ethanol" || ij.SMILES != "CCO" || ij.Metrics["affinity"] != -3.2 ||
		ij.FilesURL != "/api/v3/jobs/"+pr.JobID+"/files/" || ij.BatchID != "" {
		t.Fatalf("individual job %+v", ij)
	}
	if d, err := e.svc.JobFile(ctx, "alice", "", pr.JobID, "cif"); err != nil || d.Name != "ethanol_"+pr.JobID+".cif" {
		t.Fatalf("individual cif: %v", err)
	}

	// Deleting it keeps the files of the job that reused its result.
	re, err := e.svc.Predict(ctx, caller, api.PredictRequest{ModelName: "vina", Target: "ABL1", LigandName: "ethanol", LigandSMILES: "CCO"})
	if err != nil {
		t.Fatal(err)
	}
	if rj, _ := e.svc.JobGet(ctx, "alice", re.JobID); rj == nil || rj.ReusedFrom != pr.JobID {
		t.Fatalf("second prediction did not reuse the first: %+v", rj)
	}
	wantCode(t, e.svc.JobDelete(ctx, "bob", pr.JobID), jobs.ErrNotFound, "")
	wantCode(t, e.svc.JobDelete(ctx, "alice", again.BatchID), jobs.ErrNotFound, "")
	if err := e.svc.JobDelete(ctx, "alice", pr.JobID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.JobGet(ctx, "alice", pr.JobID); !jobs.IsCode(err, jobs.ErrNotFound) {
		t.Fatalf("deleted job: %v", err)
	}
	if keys, _ := e.res.List(ctx, "jobs/"+pr.JobID+"/"); len(keys) != 0 {
		t.Fatalf("deleted job's files left: %v", keys)
	}
	if d, err := e.svc.JobFile(ctx, "alice", "", re.JobID, "cif"); err != nil || d.Name != "ethanol_"+re.JobID+".cif" {
		t.Fatalf("reusing job's structure after the source was deleted: %v", err)
	}
	entry, err := e.svc.JobEntry(ctx, "alice", re.JobID)
	if err != nil || entry.Kind != api.KindJob || entry.Progress.Total != 1 || entry.Progress.Completed != 1 || entry.StatusURL != "/api/v3/jobs/"+re.JobID {
		t.Fatalf("job entry %v %+v", err, entry)
	}
}

func TestBatchesAndProgress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, e.submit(caller, vinaBatch(library...)).BatchID)
		e.clock.Advance(time.Minute)
	}
	list, err := e.svc.BatchList(ctx, "alice", api.ListQuery{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Batches) != 2 || !list.HasMore || list.NextCursor == "" || list.Batches[0].BatchID != ids[2] {
		t.Fatalf("list %+v", list)
	}
	// A batch submitted between two pages shifts no row: the cursor holds
	// the last batch shown, not an offset.
	newest := e.submit(caller, vinaBatch(library...)).BatchID
	next, err := e.svc.BatchList(ctx, "alice", api.ListQuery{PageSize: 2, Cursor: list.NextCursor})
	if err != nil || len(next.Batches) != 1 || next.HasMore || next.Batches[0].BatchID != ids[0] || next.Page != 2 {
		t.Fatalf("next %v %+v", err, next)
	}
	// Out of the way of the work below.
	if _, err := e.svc.BatchControl(ctx, "alice", newest, "cancel"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.BatchList(ctx, "alice", api.ListQuery{Cursor: list.NextCursor, Status: "pending"})
	wantCode(t, err, jobs.ErrInvalid, "cursor")
	_, err = e.svc.BatchList(ctx, "alice", api.ListQuery{Status: "nope"})
	wantCode(t, err, jobs.ErrInvalid, "status")
	_, err = e.svc.BatchList(ctx, "alice", api.ListQuery{Sort: "size"})
	wantCode(t, err, jobs.ErrInvalid, "sort")
	_, err = e.svc.BatchList(ctx, "alice", api.ListQuery{Q: strings.Repeat("x", 201)})
	wantCode(t, err, jobs.ErrInvalid, "q")
	_, err = e.svc.BatchList(ctx, "alice", api.ListQuery{Cursor: list.NextCursor, Sort: "name"})
	wantCode(t, err, jobs.ErrInvalid, "cursor")
	// Other orders page by position, with the cursor bound to the order.
	byName, err := e.svc.BatchList(ctx, "alice", api.ListQuery{PageSize: 3, Sort: "oldest"})
	if err != nil || len(byName.Batches) != 3 || byName.Batches[0].BatchID != ids[0] || !byName.HasMore {
		t.Fatalf("oldest first %v %+v", err, byName)
	}
	rest, err := e.svc.BatchList(ctx, "alice", api.ListQuery{PageSize: 3, Sort: "oldest", Cursor: byName.NextCursor})
	if err != nil || len(rest.Batches) != 1 || rest.Batches[0].BatchID != newest || rest.Batches[0].Kind != api.KindBatch {
		t.Fatalf("oldest first, page 2: %v %+v", err, rest)
	}

	// Work on the oldest batch: 2 of 5 ended over 2 minutes of the clock.
	start := e.clock.Now()
	e.workN("vina", 1, vinaDecide)
	e.clock.Set(start.Add(2 * time.Minute))
	e.workN("vina", 1, vinaDecide)
	var active *api.BatchProgress
	act, err := e.svc.ActiveBatches(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(act.Batches) != 3 {
		t.Fatalf("%d active batches", len(act.Batches))
	}
	for i := range act.Batches {
		if act.Batches[i].Progress.Completed+act.Batches[i].Progress.Failed > 0 {
			active = &act.Batches[i]
		}
	}
	if active == nil {
		t.Fatal("no batch made progress")
	}
	p, err := e.svc.BatchProgress(ctx, "alice", active.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := e.store.BatchGet(ctx, "alice", active.BatchID)
	elapsed := e.clock.Now().Sub(bg.StartedAt).Seconds()
	ended := float64(bg.Progress.Ended())
	wantRate := ended / (elapsed / 60)
	if p.ElapsedSeconds != elapsed || math.Abs(p.JobsPerMinute-wantRate) > 1e-9 || p.EtaSeconds == nil ||
		math.Abs(*p.EtaSeconds-(5-ended)/wantRate*60) > 1e-6 || p.Status != "running" {
		t.Fatalf("progress %+v (eta %v), want rate %v over %vs", p, p.EtaSeconds, wantRate, elapsed)
	}

	got, err := e.svc.BatchGet(ctx, "alice", active.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "running" || got.StartedAt == nil || got.FinishedAt != nil || got.Milestones == nil ||
		got.Target != "ABL1" || got.ProteinName != "ABL1 kinase" || got.Progress.Percent != 100*ended/5 || got.ModelVersion == "" {
		t.Fatalf("batch %+v", got)
	}

	// Cancel stops the rest; the batch ends.
	before, _ := e.store.BatchGet(ctx, "alice", ids[2])
	c, err := e.svc.BatchControl(ctx, "alice", ids[2], "cancel")
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != "cancel" || c.Affected != before.Progress.Pending+before.Progress.Running || c.Affected == 0 || c.Batch.Status != "cancelled" || c.Batch.FinishedAt == nil {
		t.Fatalf("cancel %+v", c)
	}
	_, err = e.svc.BatchControl(ctx, "alice", ids[2], "explode")
	wantCode(t, err, jobs.ErrInvalid, "action")
}

// movingStore runs hook once, right after the first listing of a batch's
// pending children, as a worker would between two store calls.
type movingStore struct {
	jobs.Store
	hook func()
}

func (m *movingStore) JobList(ctx context.Context, f jobs.JobFilter) ([]*jobs.Job, error) {
	out, err := m.Store.JobList(ctx, f)
	if f.BatchID != "" && m.hook != nil {
		h := m.hook
		m.hook = nil
		h()
	}
	return out, err
}

// TestResultsWhileChildrenMove: a child that ends while the table is read
// is neither lost nor counted twice.
func TestResultsWhileChildrenMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	resp := e.submit(caller, vinaBatch(library...))
	ms := &movingStore{Store: e.store}
	svc, err := New(Config{Store: ms, Results: e.res, Models: newRegistry(t), Clock: e.clock, Log: e.svc.log})
	if err != nil {
		t.Fatal(err)
	}
	ms.hook = func() { e.workN("vina", 1, vinaDecide) }
	page, err := svc.Results(ctx, "alice", resp.BatchID, api.ResultsQuery{Sort: "index"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(page.Rows); !slices.Equal(got, []string{"imatinib", "aspirin", "erlotinib", "gefitinib", "caffeine"}) {
		t.Fatalf("rows %v", got)
	}
	// The page was read while the child moved; the next read, after the
	// batch changed, shows where it ended.
	ms.hook = nil
	page, err = svc.Results(ctx, "alice", resp.BatchID, api.ResultsQuery{Sort: "index"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Rows[0].Status != "completed" || page.Rows[0].Affinity == nil {
		t.Fatalf("the child that ended meanwhile: %+v", page.Rows[0])
	}
}

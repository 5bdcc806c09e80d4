package results

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"omtx/jobs"
)

var vinaMetrics = []Metric{
	{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: LowerIsBetter, Primary: true},
	{Name: "ligand_efficiency", Label: "Ligand efficiency", Unit: "kcal/mol/heavy atom", Better: HigherIsBetter},
}

// child builds a batch child; metrics nil for one that did not complete.
func child(batchID, id string, index int, name, smiles string, status jobs.Status, metrics map[string]float64) *jobs.Job {
	in, _ := json.Marshal(map[string]string{"name": name, "smiles": smiles})
	j := &jobs.Job{
		ID: id, UserID: "u1", Type: jobs.TypeBatchChild, BatchID: batchID, Index: index,
		Model: "vina", ModelVersion: "1.2.3", Name: name, Input: in, Status: status,
		CreatedAt:  time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC),
		FinishedAt: time.Date(2026, 11, 23, 1, 10+index, 0, 0, time.UTC),
	}
	if metrics != nil {
		j.Result, _ = json.Marshal(JobSummary{Metrics: metrics, Primary: "affinity", Files: []string{"structure.cif"}})
	}
	return j
}

// vinaBatch is a realistic finished Vina batch of six ligands: four
// completed (two tied at -9.1), one failed, one cancelled; children are
// returned out of input order.
func vinaBatch() (*jobs.Batch, []*jobs.Job) {
	est := time.FixedZone("EST", -5*3600)
	b := &jobs.Batch{Job: jobs.Job{
		ID: "b-vina", UserID: "u1", Type: jobs.TypeBatchParent, BatchID: "b-vina",
		Model: "vina", ModelVersion: "1.2.3", Name: "ABL1 screen",
		Input:     json.RawMessage(`{"protein_name":"ABL1 kinase","target":"ABL1","parameters":{"exhaustiveness":8,"num_modes":9}}`),
		Status:    jobs.StatusCompleted,
		CreatedAt: time.Date(2026, 11, 22, 20, 2, 3, 0, est), // 2026-11-23T01:02:03Z
	}}
	b.Progress = jobs.Progress{Total: 6, Completed: 4, Failed: 1, Cancelled: 1}
	c := []*jobs.Job{
		child("b-vina", "c0", 0, "imatinib", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1", jobs.StatusCompleted,
			map[string]float64{"affinity": -9.1, "ligand_efficiency": 0.25}),
		child("b-vina", "c1", 1, `=HYPERLINK("x")`, "CCO", jobs.StatusCompleted,
			map[string]float64{"affinity": -7.5, "ligand_efficiency": 0.5}),
		child("b-vina", "c2", 2, "-cmd", "c1ccccc1", jobs.StatusCompleted,
			map[string]float64{"affinity": -8.2, "ligand_efficiency": 0.3}),
		child("b-vina", "c3", 3, "aspirin", "CC(=O)Oc1ccccc1C(=O)O", jobs.StatusFailed, nil),
		child("b-vina", "c4", 4, "caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", jobs.StatusCancelled, nil),
		child("b-vina", "c5", 5, "@sum", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", jobs.StatusCompleted,
			map[string]float64{"affinity": -9.1, "ligand_efficiency": 0.4}),
	}
	c[3].Error = "+vina exited with status 1"
	c[2].ReusedFrom = "old-job"
	return b, []*jobs.Job{c[4], c[2], c[0], c[5], c[1], c[3]}
}

func decode[T any](t *testing.T, s *Store, key string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(get(t, s, key), &v); err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func ids(rs []Ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.JobID
	}
	return out
}

// snapshot reads every object in the bucket.
func snapshot(t *testing.T, s *Store) map[string]string {
	t.Helper()
	keys, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k] = string(get(t, s, k))
	}
	return out
}

func TestFinalizeVinaBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		batch, children := vinaBatch()
		if err := s.WriteBatchStart(ctx, &batch.Job, children, BatchMetadata{Metrics: vinaMetrics}); err != nil {
			t.Fatal(err)
		}
		in := FinalizeInput{Batch: batch, Children: children, Model: "vina", ModelVersion: "1.2.3", Metrics: vinaMetrics}
		sum, err := s.Finalize(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		first := snapshot(t, s)

		wantKeys := []string{
			"archive/b-vina/batch_metadata.json",
			"batches/b-vina/batch_index.json",
			"batches/b-vina/batch_metadata.json",
			"batches/b-vina/results/aggregated.json",
			"batches/b-vina/results/batch_metadata.json",
			"batches/b-vina/results/batch_results.csv",
			"batches/b-vina/results/job_index.json",
			"batches/b-vina/results/summary.json",
			"batches/b-vina/summary.json",
		}
		if got := slices.Sorted(maps.Keys(first)); !slices.Equal(got, wantKeys) {
			t.Fatalf("keys = %q\nwant %q", got, wantKeys)
		}

		t.Run("summary", func(t *testing.T) {
			if first["batches/b-vina/summary.json"] != first["batches/b-vina/results/summary.json"] {
				t.Fatal("the two summary.json differ")
			}
			got := decode[Summary](t, s, "batches/b-vina/summary.json")
			if want := (Counts{Total: 6, Completed: 4, Failed: 1, Cancelled: 1}); got.Counts != want {
				t.Errorf("counts = %+v, want %+v", got.Counts, want)
			}
			if !near(got.SuccessRate, 4.0/6) || got.Status != jobs.StatusCompleted || got.PrimaryMetric != "affinity" || got.StdKind != "population" {
				t.Errorf("rate %v status %s primary %s std %s", got.SuccessRate, got.Status, got.PrimaryMetric, got.StdKind)
			}
			// Top by affinity, lower is better, the -9.1 tie broken by index.
			if want := []string{"c0", "c5", "c2", "c1"}; !slices.Equal(ids(got.Top), want) {
				t.Errorf("top = %q, want %q", ids(got.Top), want)
			}
			if got.Top[1].Rank != 2 || got.Top[1].LigandName != "@sum" || got.Top[1].Value != -9.1 {
				t.Errorf("top[1] = %+v", got.Top[1])
			}
			// By hand: affinity over -9.1 -7.5 -8.2 -9.1; efficiency over .25 .5 .3 .4.
			for _, tc := range []struct {
				name                        string
				count                       int
				min, max, mean, median, std float64
				best                        string
				unit                        string
				better                      Direction
			}{
				{"affinity", 4, -9.1, -7.5, -8.475, -8.65, math.Sqrt(1.8075 / 4), "c0", "kcal/mol", LowerIsBetter},
				{"ligand_efficiency", 4, 0.25, 0.5, 0.3625, 0.35, math.Sqrt(0.036875 / 4), "c1", "kcal/mol/heavy atom", HigherIsBetter},
			} {
				i := slices.IndexFunc(got.Metrics, func(m MetricStats) bool { return m.Name == tc.name })
				if i < 0 {
					t.Fatalf("no stats for %s", tc.name)
				}
				m := got.Metrics[i]
				if m.Count != tc.count || !near(*m.Min, tc.min) || !near(*m.Max, tc.max) || !near(*m.Mean, tc.mean) ||
					!near(*m.Median, tc.median) || !near(*m.Std, tc.std) || m.Best.JobID != tc.best || m.Unit != tc.unit || m.Better != tc.better {
					t.Errorf("%s stats = count %d min %v max %v mean %v median %v std %v best %s unit %q better %s; want %+v",
						tc.name, m.Count, *m.Min, *m.Max, *m.Mean, *m.Median, *m.Std, m.Best.JobID, m.Unit, m.Better, tc)
				}
			}
			if sum.Counts != got.Counts || !slices.Equal(ids(sum.Top), ids(got.Top)) {
				t.Error("returned summary differs from summary.json")
			}
		})

		t.Run("aggregated", func(t *testing.T) {
			agg := decode[Aggregated](t, s, "batches/b-vina/results/aggregated.json")
			if agg.BatchID != "b-vina" || agg.TotalJobs != 6 || len(agg.Jobs) != 6 || agg.PrimaryMetric != "affinity" {
				t.Fatalf("aggregated = %+v", agg)
			}
			for i, j := range agg.Jobs {
				if j.Index != i || j.JobID != fmt.Sprintf("c%d", i) || j.Folder != "batches/b-vina/jobs/"+j.JobID {
					t.Errorf("jobs[%d] = %+v, want input order", i, j)
				}
			}
			if j := agg.Jobs[1]; j.LigandName != `=HYPERLINK("x")` || j.Smiles != "CCO" || j.Metrics["affinity"] != -7.5 {
				t.Errorf("jobs[1] = %+v (JSON keeps names as they are)", j)
			}
			if j := agg.Jobs[3]; j.Status != jobs.StatusFailed || j.Error != "+vina exited with status 1" || j.Metrics != nil {
				t.Errorf("failed child = %+v", j)
			}
			if j := agg.Jobs[4]; j.Status != jobs.StatusCancelled || j.Metrics != nil {
				t.Errorf("cancelled child = %+v", j)
			}
			if agg.Jobs[2].ReusedFrom != "old-job" {
				t.Errorf("reused_from = %q", agg.Jobs[2].ReusedFrom)
			}
			// The streamed document is byte for byte the plain encoding.
			whole, err := marshalJSON(agg)
			if err != nil {
				t.Fatal(err)
			}
			if string(whole) != first["batches/b-vina/results/aggregated.json"] {
				t.Error("streamed aggregated.json differs from its plain encoding")
			}
		})

		t.Run("indexes and metadata", func(t *testing.T) {
			ji := decode[JobIndex](t, s, "batches/b-vina/results/job_index.json")
			if len(ji.Jobs) != 6 || ji.Jobs["c4"] != (IndexEntry{Index: 4, Name: "caffeine", Status: jobs.StatusCancelled, Folder: "batches/b-vina/jobs/c4"}) {
				t.Errorf("job_index = %+v", ji)
			}
			bi := decode[BatchIndex](t, s, "batches/b-vina/batch_index.json")
			var st []jobs.Status
			for _, j := range bi.Jobs {
				st = append(st, j.Status)
			}
			want := []jobs.Status{"completed", "completed", "completed", "failed", "cancelled", "completed"}
			if bi.Status != jobs.StatusCompleted || bi.TotalJobs != 6 || !slices.Equal(st, want) {
				t.Errorf("batch_index = %+v", bi)
			}
			meta := first["batches/b-vina/results/batch_metadata.json"]
			if meta != first["archive/b-vina/batch_metadata.json"] || meta != first["batches/b-vina/batch_metadata.json"] {
				t.Error("the batch_metadata.json copies differ")
			}
			for _, want := range []string{
				`"created_at": "2026-11-23T01:02:03Z"`,  // RFC 3339, UTC
				`"finished_at": "2026-11-23T01:15:00Z"`, // the last child's end
				`"protein_name": "ABL1 kinase"`, `"target": "ABL1"`, `"exhaustiveness": 8`,
				`"status": "completed"`, `"total_jobs": 6`, `"unit": "kcal/mol"`, `"better": "higher"`,
			} {
				if !strings.Contains(meta, want) {
					t.Errorf("batch_metadata.json lacks %s:\n%s", want, meta)
				}
			}
		})

		t.Run("csv", func(t *testing.T) {
			recs, err := csv.NewReader(strings.NewReader(first["batches/b-vina/results/batch_results.csv"])).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{
				{"index", "job_id", "ligand_name", "smiles", "status", "affinity", "ligand_efficiency", "error"},
				{"0", "c0", "imatinib", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1", "completed", "-9.1", "0.25", ""},
				{"1", "c1", `'=HYPERLINK("x")`, "CCO", "completed", "-7.5", "0.5", ""},
				{"2", "c2", "'-cmd", "c1ccccc1", "completed", "-8.2", "0.3", ""},
				{"3", "c3", "aspirin", "CC(=O)Oc1ccccc1C(=O)O", "failed", "", "", "'+vina exited with status 1"},
				{"4", "c4", "caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "cancelled", "", "", ""},
				{"5", "c5", "'@sum", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "completed", "-9.1", "0.4", ""},
			}
			if !slices.EqualFunc(recs, want, slices.Equal) {
				t.Errorf("csv =\n%q\nwant\n%q", recs, want)
			}
		})

		t.Run("finalize again gives the same bytes", func(t *testing.T) {
			if _, err := s.Finalize(ctx, in); err != nil {
				t.Fatal(err)
			}
			again := snapshot(t, s)
			for k, v := range first {
				if again[k] != v {
					t.Errorf("%s changed on the second finalize", k)
				}
			}
		})
	})
}

func TestWriteBatchStart(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		batch, children := vinaBatch()
		batch.Status = jobs.StatusPending
		for _, c := range children {
			c.Status = jobs.StatusPending
		}
		if err := s.WriteBatchStart(context.Background(), &batch.Job, children, BatchMetadata{Metrics: vinaMetrics}); err != nil {
			t.Fatal(err)
		}
		bi := decode[BatchIndex](t, s, "batches/b-vina/batch_index.json")
		if bi.Status != jobs.StatusPending || len(bi.Jobs) != 6 || bi.Jobs[1].Name != `=HYPERLINK("x")` || bi.Jobs[5].Folder != "batches/b-vina/jobs/c5" {
			t.Errorf("batch_index = %+v", bi)
		}
		meta := decode[BatchMetadata](t, s, "batches/b-vina/batch_metadata.json")
		if meta.JobName != "ABL1 screen" || meta.Target != "ABL1" || meta.TotalJobs != 6 || len(meta.Metrics) != 2 ||
			!meta.CreatedAt.Equal(time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)) || !meta.FinishedAt.IsZero() {
			t.Errorf("batch_metadata = %+v", meta)
		}
	})
}

// TestFinalizeTopHigherIsBetter ranks a Boltz-2 batch by a probability
// (higher is better), with ties and more than TopN children.
func TestFinalizeTopHigherIsBetter(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		probs := []float64{0.5, 0.9, 0.7, 0.9, 0.1, 0.3, 0.7, 0.95, 0.2, 0.6, 0.4, 0.8}
		var children []*jobs.Job
		for i, p := range probs {
			children = append(children, child("b-boltz", fmt.Sprintf("k%02d", i), i, fmt.Sprintf("lig%d", i), "CCO", jobs.StatusCompleted,
				map[string]float64{"affinity_probability_binary": p, "affinity_pred_value": -p}))
		}
		children = append(children, child("b-boltz", "k12", 12, "lost", "CCN", jobs.StatusFailed, nil))
		batch := &jobs.Batch{Job: jobs.Job{ID: "b-boltz", Model: "boltz2", Status: jobs.StatusRunning}}
		sum, err := s.Finalize(context.Background(), FinalizeInput{Batch: batch, Children: children, Metrics: []Metric{
			{Name: "affinity_pred_value", Unit: "log10(IC50/uM)", Better: LowerIsBetter},
			{Name: "affinity_probability_binary", Better: HigherIsBetter, Primary: true},
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"k07", "k01", "k03", "k11", "k02", "k06", "k09", "k00", "k10", "k05"}
		if !slices.Equal(ids(sum.Top), want) {
			t.Errorf("top = %q, want %q", ids(sum.Top), want)
		}
		// A batch finalized while its parent is still marked running takes
		// its final status from the children.
		if sum.Status != jobs.StatusCompleted || sum.Model != "boltz2" || sum.PrimaryMetric != "affinity_probability_binary" {
			t.Errorf("status %s model %s primary %s", sum.Status, sum.Model, sum.PrimaryMetric)
		}
		if b := sum.Metrics[0].Best; b == nil || b.JobID != "k07" || b.Value != -0.95 {
			t.Errorf("best affinity_pred_value = %+v, want k07 at -0.95", b)
		}
		csvText := string(get(t, s, "batches/b-boltz/results/batch_results.csv"))
		if !strings.HasPrefix(csvText, "index,job_id,ligand_name,smiles,status,affinity_pred_value,affinity_probability_binary,error\n") ||
			!strings.Contains(csvText, "\n7,k07,lig7,CCO,completed,-0.95,0.95,\n") {
			t.Errorf("csv:\n%s", csvText)
		}
	})
}

func TestFinalizeCancelledBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		batch := &jobs.Batch{Job: jobs.Job{ID: "b-x", Model: "vina", Status: jobs.StatusCancelled}}
		children := []*jobs.Job{
			child("b-x", "x0", 0, "a", "C", jobs.StatusCancelled, nil),
			child("b-x", "x1", 1, "b", "CC", jobs.StatusCancelled, nil),
		}
		sum, err := s.Finalize(context.Background(), FinalizeInput{Batch: batch, Children: children, Metrics: vinaMetrics})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Status != jobs.StatusCancelled || sum.Counts.Cancelled != 2 || sum.SuccessRate != 0 || len(sum.Top) != 0 ||
			sum.Metrics[0].Count != 0 || sum.Metrics[0].Mean != nil || sum.Metrics[0].Best != nil {
			t.Errorf("summary = %+v", sum)
		}
		raw := string(get(t, s, "batches/b-x/summary.json"))
		if !strings.Contains(raw, `"mean": null`) || !strings.Contains(raw, `"top": []`) {
			t.Errorf("summary.json:\n%s", raw)
		}
		agg := string(get(t, s, "batches/b-x/results/aggregated.json"))
		if _, err := json.Marshal(json.RawMessage(agg)); err != nil {
			t.Errorf("aggregated.json is not JSON: %v", err)
		}
	})
}

func TestWriteZip(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, children := vinaBatch()
		files := map[string]string{
			"batches/b-vina/jobs/c0/structure.cif": "data_imatinib\n",
			"batches/b-vina/jobs/c0/poses.sdf":     "imatinib\n$$$$\n",
			"batches/b-vina/jobs/c1/structure.cif": "data_c1\n",
			"batches/b-vina/jobs/c2/structure.cif": strings.Repeat("ATOM line\n", 50000),
			"batches/b-vina/jobs/c2/logs.txt":      "not asked for\n",
		}
		for k, v := range files {
			put(t, s, k, v)
		}
		var buf bytes.Buffer
		if err := s.WriteZip(ctx, &buf, "b-vina", children, []string{"structure.cif", "poses.sdf"}); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ name, key string }{
			{"imatinib_c0/structure.cif", "batches/b-vina/jobs/c0/structure.cif"},
			{"imatinib_c0/poses.sdf", "batches/b-vina/jobs/c0/poses.sdf"},
			{"_HYPERLINK__x___c1/structure.cif", "batches/b-vina/jobs/c1/structure.cif"},
			{"-cmd_c2/structure.cif", "batches/b-vina/jobs/c2/structure.cif"},
		}
		if len(zr.File) != len(want) {
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			t.Fatalf("zip holds %q", names)
		}
		for i, f := range zr.File {
			if f.Name != want[i].name {
				t.Errorf("entry %d = %s, want %s", i, f.Name, want[i].name)
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(data) != files[want[i].key] {
				t.Errorf("%s: %d bytes, err %v", f.Name, len(data), err)
			}
		}
	})
}

func TestZipFolder(t *testing.T) {
	for _, tc := range []struct{ name, id, want string }{
		{"imatinib", "j1", "imatinib_j1"},
		{"../../etc/passwd", "j2", "_.._etc_passwd_j2"},
		{"", "j3", "ligand_j3"},
		{"..", "j4", "ligand_j4"},
		{"café 1", "j5", "caf__1_j5"},
		{strings.Repeat("x", 300), "j6", strings.Repeat("x", 80) + "_j6"},
	} {
		if got := ZipFolder(tc.name, tc.id); got != tc.want {
			t.Errorf("ZipFolder(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCSVText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"},
		{"-cmd", "'-cmd"},
		{"+1", "'+1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"CCO", "CCO"},
		{"", ""},
		{"a=b", "a=b"},
	} {
		if got := csvText(tc.in); got != tc.want {
			t.Errorf("csvText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// BenchmarkFinalize finalizes a 10,000-ligand Vina batch on mem://.
func BenchmarkFinalize(b *testing.B) {
	const n = 10000
	s, err := Open(context.Background(), "mem://")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := &jobs.Batch{Job: jobs.Job{ID: "bench", Model: "vina", ModelVersion: "1.2.3", Status: jobs.StatusCompleted}}
	children := make([]*jobs.Job, n)
	for i := range n {
		st, m := jobs.StatusCompleted, map[string]float64{"affinity": -5 - float64(i%97)/10, "ligand_efficiency": float64(i%31) / 100}
		if i%50 == 0 {
			st, m = jobs.StatusFailed, nil
		}
		children[i] = child("bench", fmt.Sprintf("job-%05d", i), i, fmt.Sprintf("ligand %d", i), "CC(=O)Oc1ccccc1C(=O)O", st, m)
	}
	in := FinalizeInput{Batch: batch, Children: children, Metrics: vinaMetrics}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Finalize(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

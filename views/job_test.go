package views

import (
	"testing"
	"time"

	"omtx/api"
)

func vinaJob() JobView {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	started, finished := now.Add(-90*time.Second), now.Add(-30*time.Second)
	return JobView{
		Now: now,
		Job: api.Job{
			JobID: "j1", BatchID: "b1", JobName: "screen", ModelName: "vina", ModelVersion: "1.2.3",
			Status: "completed", Attempt: 1, MaxAttempts: 3, LigandName: "imatinib", SMILES: "CCO",
			Metrics: map[string]float64{"affinity": -12.84, "ligand_efficiency": 0.3451, "zeta": 2},
			MetricInfo: []api.Metric{
				{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: "lower", Primary: true},
				{Name: "ligand_efficiency", Label: "Ligand efficiency", Unit: "kcal/mol per heavy atom", Better: "higher"},
				{Name: "heavy_atoms", Label: "Heavy atoms", Better: "lower"},
			},
			Files:          []string{"logs.txt", "poses.sdf", "structure.cif"},
			FilesURL:       "/api/v3/batches/b1/jobs/j1/files/",
			ElapsedSeconds: 42.5,
			CreatedAt:      now.Add(-2 * time.Minute), StartedAt: &started, FinishedAt: &finished,
		},
		Batch: &api.Batch{BatchID: "b1", JobName: "screen", ProteinName: "ABL1 kinase", Target: "ABL1"},
	}
}

func TestJobMetrics(t *testing.T) {
	ms := vinaJob().Metrics()
	if len(ms) != 3 {
		t.Fatalf("%d metrics, want 3 (heavy atoms was not reported): %+v", len(ms), ms)
	}
	if ms[0].Value != "-12.84" || ms[0].Meaning() != "kcal/mol, lower is better, the model's ranking score" {
		t.Errorf("affinity %+v %q", ms[0], ms[0].Meaning())
	}
	if ms[1].Value != "0.345" || ms[1].Meaning() != "kcal/mol per heavy atom, higher is better" {
		t.Errorf("efficiency %+v", ms[1])
	}
	if ms[2].Name != "zeta" || ms[2].Meaning() != "direction not stated" {
		t.Errorf("undescribed metric %+v", ms[2])
	}
}

func TestJobInputsAndFiles(t *testing.T) {
	v := vinaJob()
	got := map[string]string{}
	for _, in := range v.Inputs() {
		got[in.TestID] = in.Value
	}
	if got["input-smiles"] != "CCO" || got["input-model"] != "vina 1.2.3" || got["input-target"] != "ABL1 kinase (ABL1)" {
		t.Errorf("inputs %v", got)
	}
	if _, ok := got["input-reused"]; ok {
		t.Error("empty inputs are left out")
	}
	files := v.Files()
	if files[len(files)-1].Name != "logs.txt" || files[0].URL != "/api/v3/batches/b1/jobs/j1/files/poses.sdf" {
		t.Errorf("files %+v", files)
	}
	if v.LogsURL() != "/api/v3/batches/b1/jobs/j1/files/logs.txt" {
		t.Errorf("logs %q", v.LogsURL())
	}
	if v.Attempts() != "attempt 1 of 3" || v.Elapsed() != "42.5s" || v.Title() != "imatinib" || v.BatchPath() != "/batch-results/b1" {
		t.Errorf("%q %q %q %q", v.Attempts(), v.Elapsed(), v.Title(), v.BatchPath())
	}
	tl := v.Timeline()
	if len(tl) != 3 || tl[2].Value != "2026-03-02 08:59 UTC (just now)" {
		t.Errorf("timeline %+v", tl)
	}
	v.Job.Files, v.Job.LigandName, v.Job.BatchID = nil, "", ""
	if v.LogsURL() != "" || v.Title() != "screen" || v.BatchPath() != "" {
		t.Error("a job without files, ligand or batch")
	}
}

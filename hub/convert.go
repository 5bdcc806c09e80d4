package hub

import (
	"encoding/json"
	"math"
	"time"

	"omtx/api"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
)

// The API's URLs of a batch and a job.
func batchURL(id string) string   { return api.Prefix + "/batches/" + id }
func resultsURL(id string) string { return api.Prefix + "/batches/" + id + "/results" }
func jobURL(id string) string     { return api.Prefix + "/jobs/" + id }

// filesURL is the prefix of a job's file URLs.
func filesURL(j *jobs.Job) string {
	if j.Type == jobs.TypeBatchChild {
		return api.Prefix + "/batches/" + j.BatchID + "/jobs/" + j.ID + "/files/"
	}
	return api.Prefix + "/jobs/" + j.ID + "/files/"
}

// timePtr is t, or nil when t is zero.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func apiProgress(p jobs.Progress) api.Progress {
	return api.Progress{Total: p.Total, Pending: p.Pending, Running: p.Running, Completed: p.Completed,
		Failed: p.Failed, Cancelled: p.Cancelled, Percent: p.Percent()}
}

func apiMilestones(ms []jobs.Milestone) []api.Milestone {
	out := make([]api.Milestone, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.Milestone{Percent: m.Percent, At: m.At.UTC()})
	}
	return out
}

func apiMetric(m results.Metric) api.Metric {
	return api.Metric{Name: m.Name, Label: m.Label, Unit: m.Unit, Better: string(m.Better), Primary: m.Primary,
		Description: m.Description}
}

func apiMetrics(ms []results.Metric) []api.Metric {
	out := make([]api.Metric, len(ms))
	for i, m := range ms {
		out[i] = apiMetric(m)
	}
	return out
}

// sharedInput reads a batch parent's input (the gpu.Input all children
// share); a broken one reads as empty.
func sharedInput(j *jobs.Job) gpu.Input {
	var in gpu.Input
	if len(j.Input) > 0 {
		_ = json.Unmarshal(j.Input, &in)
	}
	return in
}

// ligandOf reads the ligand of a batch child ({"name","smiles"}) or of an
// individual job (gpu.JobInput's ligand). The job's name stands in for a
// missing ligand name.
func ligandOf(j *jobs.Job) gpu.Ligand {
	var l gpu.Ligand
	switch j.Type {
	case jobs.TypeBatchChild:
		if len(j.Input) > 0 {
			_ = json.Unmarshal(j.Input, &l)
		}
		if l.Name == "" {
			l.Name = j.Name
		}
	case jobs.TypeIndividual:
		var in gpu.JobInput
		if len(j.Input) > 0 && json.Unmarshal(j.Input, &in) == nil && in.Ligand != nil {
			l = *in.Ligand
		}
	}
	return l
}

// summaryOf reads a completed job's result summary; non-finite numbers
// are dropped (JSON cannot carry them). ok is false for a job that did
// not complete or whose summary does not read.
func summaryOf(j *jobs.Job) (results.JobSummary, bool) {
	var js results.JobSummary
	if j.Status != jobs.StatusCompleted || len(j.Result) == 0 || json.Unmarshal(j.Result, &js) != nil {
		return results.JobSummary{}, false
	}
	for k, v := range js.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(js.Metrics, k)
		}
	}
	return js, true
}

// apiBatch converts a batch parent.
func apiBatch(b *jobs.Batch) api.Batch {
	in := sharedInput(&b.Job)
	kind, statusURL, resultsURL := api.KindBatch, batchURL(b.ID), resultsURL(b.ID)
	if b.Type == jobs.TypeIndividual {
		kind, statusURL, resultsURL = api.KindJob, jobURL(b.ID), jobURL(b.ID)
	}
	return api.Batch{
		BatchID:       b.ID,
		Kind:          kind,
		JobName:       b.Name,
		ModelName:     b.Model,
		ModelVersion:  b.ModelVersion,
		ProteinName:   in.ProteinName,
		Target:        in.Target,
		Receptor:      apiReceptor(in.Receptor),
		Status:        string(b.Status),
		Paused:        b.Paused,
		Progress:      apiProgress(b.Progress),
		Milestones:    apiMilestones(b.Milestones),
		FinalizeState: string(b.Finalize),
		Error:         b.Error,
		CreatedAt:     b.CreatedAt.UTC(),
		StartedAt:     timePtr(b.StartedAt),
		FinishedAt:    timePtr(b.FinishedAt),
		StatusURL:     statusURL,
		ResultsURL:    resultsURL,
	}
}

// apiJob converts an individual job or a batch child. files lists the
// job's file names when the caller knows them better than the summary.
func (s *Service) apiJob(j *jobs.Job, files []string) api.Job {
	out := api.Job{
		JobID:        j.ID,
		Type:         string(j.Type),
		JobName:      j.Name,
		ModelName:    j.Model,
		ModelVersion: j.ModelVersion,
		Status:       string(j.Status),
		Attempt:      j.Attempt,
		MaxAttempts:  j.MaxAttempts,
		Error:        j.Error,
		ReusedFrom:   j.ReusedFrom,
		CreatedAt:    j.CreatedAt.UTC(),
		StartedAt:    timePtr(j.StartedAt),
		FinishedAt:   timePtr(j.FinishedAt),
		FilesURL:     filesURL(j),
		Files:        files,
	}
	if j.Type == jobs.TypeBatchChild {
		out.BatchID = j.BatchID
	}
	l := ligandOf(j)
	out.LigandName, out.SMILES = l.Name, l.SMILES
	if js, ok := summaryOf(j); ok {
		if len(js.Metrics) > 0 {
			out.Metrics = js.Metrics
		}
		if out.Files == nil {
			out.Files = js.Files
		}
		out.ElapsedSeconds = js.ElapsedSeconds
	}
	if m, ok := s.models.Get(j.Model); ok {
		out.MetricInfo = apiMetrics(m.Info().Metrics)
	}
	return out
}

// apiReceptor describes an uploaded receptor; nil without one.
func apiReceptor(r *gpu.Receptor) *api.Receptor {
	if r == nil {
		return nil
	}
	return &api.Receptor{Name: r.Name, Format: r.Format, SHA256: r.SHA256, Atoms: r.Atoms, Residues: r.Residues,
		Chains: append([]string{}, r.Chains...)}
}

package results

import (
	"context"
	"encoding/json"
	"time"

	"omtx/jobs"
)

// BatchMetadata is a batch's configuration, written to
// batch_metadata.json at submission and again, with the outcome, when the
// batch is finalized. Times are written in RFC 3339, UTC.
type BatchMetadata struct {
	BatchID      string          `json:"batch_id"`
	JobName      string          `json:"job_name,omitempty"`
	Model        string          `json:"model"`
	ModelVersion string          `json:"model_version,omitempty"`
	ProteinName  string          `json:"protein_name,omitempty"`
	Target       string          `json:"target,omitempty"`
	Parameters   json.RawMessage `json:"parameters,omitempty"`
	TotalJobs    int             `json:"total_jobs"`
	Status       jobs.Status     `json:"status,omitempty"`
	// Metrics are the numbers the model reports, with units and directions.
	Metrics    []Metric  `json:"metrics,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// fill completes m from the batch parent: what the caller left empty is
// taken from the parent job and its shared input.
func (m BatchMetadata) fill(parent *jobs.Job, total int) BatchMetadata {
	m.BatchID = parent.ID
	m.TotalJobs = total
	if m.Model == "" {
		m.Model = parent.Model
	}
	if m.ModelVersion == "" {
		m.ModelVersion = parent.ModelVersion
	}
	if m.JobName == "" {
		m.JobName = parent.Name
	}
	if m.Status == "" {
		m.Status = parent.Status
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = parent.CreatedAt
	}
	if m.FinishedAt.IsZero() {
		m.FinishedAt = parent.FinishedAt
	}
	var in struct {
		ProteinName string          `json:"protein_name"`
		Target      string          `json:"target"`
		Parameters  json.RawMessage `json:"parameters"`
	}
	if len(parent.Input) > 0 && json.Unmarshal(parent.Input, &in) == nil {
		if m.ProteinName == "" {
			m.ProteinName = in.ProteinName
		}
		if m.Target == "" {
			m.Target = in.Target
		}
		if len(m.Parameters) == 0 && len(in.Parameters) > 0 && string(in.Parameters) != "null" {
			m.Parameters = in.Parameters
		}
	}
	m.CreatedAt = utc(m.CreatedAt)
	m.FinishedAt = utc(m.FinishedAt)
	return m
}

// utc drops the location and monotonic reading of t so that it encodes the
// same way wherever it came from.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// BatchIndex is batch_index.json: the batch's job registry.
type BatchIndex struct {
	BatchID     string       `json:"batch_id"`
	ParentJobID string       `json:"parent_job_id"`
	Model       string       `json:"model"`
	Status      jobs.Status  `json:"status"`
	TotalJobs   int          `json:"total_jobs"`
	CreatedAt   time.Time    `json:"created_at,omitzero"`
	Jobs        []IndexEntry `json:"jobs"`
}

// IndexEntry is one child in batch_index.json and job_index.json.
type IndexEntry struct {
	JobID      string      `json:"job_id,omitempty"`
	Index      int         `json:"index"`
	Name       string      `json:"name"`
	Status     jobs.Status `json:"status"`
	Folder     string      `json:"folder"`
	ReusedFrom string      `json:"reused_from,omitempty"`
}

// ligand is a child's own input.
type ligand struct {
	Name   string `json:"name"`
	Smiles string `json:"smiles"`
}

// ligandOf reads a child's ligand, falling back to the job name.
func ligandOf(j *jobs.Job) ligand {
	var l ligand
	if len(j.Input) > 0 {
		_ = json.Unmarshal(j.Input, &l)
	}
	if l.Name == "" {
		l.Name = j.Name
	}
	return l
}

// validateBatch checks the batch ID and every child's ID.
func validateBatch(batchID string, children []*jobs.Job) error {
	if err := ValidateID("batch_id", batchID); err != nil {
		return err
	}
	for _, c := range children {
		if err := ValidateID("job_id", c.ID); err != nil {
			return err
		}
	}
	return nil
}

// batchIndex builds batch_index.json from children in input order.
func batchIndex(parent *jobs.Job, status jobs.Status, ordered []*jobs.Job) BatchIndex {
	idx := BatchIndex{
		BatchID:     parent.ID,
		ParentJobID: parent.ID,
		Model:       parent.Model,
		Status:      status,
		TotalJobs:   len(ordered),
		CreatedAt:   utc(parent.CreatedAt),
		Jobs:        make([]IndexEntry, len(ordered)),
	}
	for i, c := range ordered {
		idx.Jobs[i] = IndexEntry{
			JobID:      c.ID,
			Index:      c.Index,
			Name:       ligandOf(c).Name,
			Status:     c.Status,
			Folder:     JobDir(parent.ID, c.ID),
			ReusedFrom: c.ReusedFrom,
		}
	}
	return idx
}

// WriteBatchStart writes batch_index.json and batch_metadata.json when a
// batch is submitted. Fields of meta left empty are taken from the parent
// (model, version, name, created time, and protein name, target and
// parameters from its input).
func (s *Store) WriteBatchStart(ctx context.Context, parent *jobs.Job, children []*jobs.Job, meta BatchMetadata) error {
	if err := validateBatch(parent.ID, children); err != nil {
		return err
	}
	ordered := inputOrder(children)
	meta = meta.fill(parent, len(children))
	if err := s.PutJSON(ctx, BatchDir(parent.ID)+"/"+FileBatchMetadata, meta); err != nil {
		return err
	}
	return s.PutJSON(ctx, BatchDir(parent.ID)+"/"+FileBatchIndex, batchIndex(parent, parent.Status, ordered))
}

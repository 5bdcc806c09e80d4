// Package api holds the wire types of the hub's JSON API v3: what the
// handlers answer, what the command-line client decodes, and what the
// OpenAPI document at /api/v3/openapi.json is built from. Types only; no
// behaviour beyond small helpers.
package api

import (
	"encoding/json"
	"time"
)

// Prefix is the path prefix of API v3.
const Prefix = "/api/v3"

// ErrorBody is the one error shape of the API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong and, for the caller's mistakes, which
// input field (or row) it concerns.
type ErrorDetail struct {
	Code    string `json:"code" doc:"machine-readable code: invalid, not_found, conflict, unauthorized, forbidden, rate_limited, too_large, internal"`
	Message string `json:"message" doc:"what went wrong, safe to show"`
	Field   string `json:"field,omitempty" doc:"the input field it concerns, e.g. ligands[3].smiles"`
	// Problems lists every problem of a ligand library, row by row.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one problem of a ligand library.
type Problem struct {
	Row     int    `json:"row,omitempty" doc:"1-based data row (or ligand) number"`
	Line    int    `json:"line,omitempty" doc:"line in the uploaded file"`
	Field   string `json:"field,omitempty" doc:"e.g. smiles, name"`
	Name    string `json:"name,omitempty" doc:"the ligand's name, when known"`
	Message string `json:"message"`
}

func (e *ErrorDetail) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Ligand is one small molecule of a library.
type Ligand struct {
	Name   string `json:"name" doc:"the ligand's name in the library"`
	SMILES string `json:"smiles" doc:"SMILES string"`
}

// Webhook asks for a POST when a batch is finalized. The body is a
// WebhookEvent; the header X-OMTX-Signature is "t=UNIX,v1=HEX" where HEX is
// the HMAC-SHA256 under Secret of "UNIX.BODY".
type Webhook struct {
	URL    string `json:"url" doc:"http or https URL"`
	Secret string `json:"secret" doc:"shared secret for the HMAC-SHA256 signature (at least 16 characters)"`
}

// SubmitBatchRequest is the body of POST /api/v3/batches/submit, the
// original system's fields plus target (Vina) and webhook.
type SubmitBatchRequest struct {
	JobName         string `json:"job_name" doc:"a name for the batch"`
	ModelName       string `json:"model_name" enum:"vina,boltz2,chai1,rfantibody"`
	ProteinSequence string `json:"protein_sequence,omitempty" doc:"one-letter amino-acid sequence (Boltz-2, Chai-1)"`
	ProteinName     string `json:"protein_name,omitempty"`
	Target          string `json:"target,omitempty" doc:"bundled docking target id for Vina, e.g. ABL1"`
	// Receptor is an uploaded receptor structure (Vina), instead of a
	// bundled target; parameters.box is then required.
	Receptor   *ReceptorUpload `json:"receptor,omitempty" doc:"an uploaded receptor (PDB or mmCIF) instead of a bundled target; needs parameters.box"`
	Ligands    []Ligand        `json:"ligands"`
	Parameters json.RawMessage `json:"parameters,omitempty" doc:"model options; see GET /api/v3/models"`
	Webhook    *Webhook        `json:"webhook,omitempty"`
	// DropInvalid submits the valid ligands and reports the others instead
	// of refusing the whole library.
	DropInvalid bool `json:"drop_invalid,omitempty" doc:"submit the valid ligands and list the invalid ones instead of refusing the library"`
}

// ReceptorUpload is a receptor structure sent with a submission.
type ReceptorUpload struct {
	// Name is the file's name (its extension may give the format).
	Name string `json:"name" doc:"the file's name, e.g. 1iep.pdb"`
	// Format is pdb or cif; detected from the name or content when empty.
	Format string `json:"format,omitempty" enum:"pdb,cif"`
	// Content is the file's text.
	Content string `json:"content" doc:"the PDB or mmCIF text"`
}

// Receptor describes an uploaded receptor as the hub stored it.
type Receptor struct {
	Name     string   `json:"name"`
	Format   string   `json:"format" enum:"pdb,cif"`
	SHA256   string   `json:"sha256" doc:"digest of the stored PDB text"`
	Atoms    int      `json:"atoms"`
	Residues int      `json:"residues"`
	Chains   []string `json:"chains"`
}

// SubmitBatchResponse answers a batch submission (202).
type SubmitBatchResponse struct {
	BatchID    string `json:"batch_id"`
	StatusURL  string `json:"status_url"`
	ResultsURL string `json:"results_url"`
	TotalJobs  int    `json:"total_jobs"`
	// Dropped lists the ligands left out with drop_invalid.
	Dropped []LigandCheck `json:"dropped,omitempty"`
	// Replayed is true when the request repeated an earlier one under the
	// same Idempotency-Key: this is the batch that one submitted.
	Replayed bool `json:"replayed,omitempty"`
}

// PredictRequest is the body of POST /api/v3/predict: one ligand.
type PredictRequest struct {
	JobName         string          `json:"job_name"`
	ModelName       string          `json:"model_name" enum:"vina,boltz2,chai1,rfantibody"`
	ProteinSequence string          `json:"protein_sequence,omitempty"`
	ProteinName     string          `json:"protein_name,omitempty"`
	Target          string          `json:"target,omitempty"`
	Receptor        *ReceptorUpload `json:"receptor,omitempty" doc:"an uploaded receptor (PDB or mmCIF) instead of a bundled target; needs parameters.box"`
	LigandName      string          `json:"ligand_name,omitempty"`
	LigandSMILES    string          `json:"ligand_smiles,omitempty"`
	Parameters      json.RawMessage `json:"parameters,omitempty"`
}

// PredictResponse answers a single prediction (202).
type PredictResponse struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
	// Replayed is true when the request repeated an earlier one under the
	// same Idempotency-Key: this is the job that one submitted.
	Replayed bool `json:"replayed,omitempty"`
}

// ValidateLigandsRequest is the body of POST /api/v3/ligands/validate.
type ValidateLigandsRequest struct {
	Ligands []Ligand `json:"ligands"`
	// ModelName, when given, applies that model's own ligand rules too.
	ModelName string `json:"model_name,omitempty" enum:"vina,boltz2,chai1,rfantibody"`
}

// ValidateLigandsResponse lists every ligand in input order.
type ValidateLigandsResponse struct {
	Results []LigandCheck `json:"results"`
	Valid   int           `json:"valid"`
	Invalid int           `json:"invalid"`
}

// LigandCheck is the verdict on one ligand.
type LigandCheck struct {
	Index           int          `json:"index" doc:"0-based position in the input"`
	Row             int          `json:"row,omitempty" doc:"1-based data row of an uploaded file"`
	Line            int          `json:"line,omitempty" doc:"line of an uploaded file"`
	Name            string       `json:"name"`
	SMILES          string       `json:"smiles"`
	Valid           bool         `json:"valid"`
	Error           *ErrorDetail `json:"error,omitempty"`
	Formula         string       `json:"formula,omitempty"`
	MolecularWeight *float64     `json:"molecular_weight,omitempty" doc:"average molecular weight, g/mol"`
	HeavyAtoms      *int         `json:"heavy_atoms,omitempty"`
	HBondDonors     *int         `json:"hbond_donors,omitempty"`
	HBondAcceptors  *int         `json:"hbond_acceptors,omitempty"`
}

// Progress counts a batch's jobs by status.
type Progress struct {
	Total     int     `json:"total"`
	Pending   int     `json:"pending"`
	Running   int     `json:"running"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Cancelled int     `json:"cancelled"`
	Percent   float64 `json:"percent" doc:"ended jobs / total, 0 to 100"`
}

// Milestone is when a batch's progress first reached Percent.
type Milestone struct {
	Percent int       `json:"percent"`
	At      time.Time `json:"at"`
}

// Batch is a batch of jobs, one per ligand.
type Batch struct {
	BatchID string `json:"batch_id"`
	// Kind is job for an individual job listed with include_jobs (its
	// batch_id is the job's id and progress counts the job itself).
	Kind         string `json:"kind" enum:"batch,job"`
	JobName      string `json:"job_name"`
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version,omitempty"`
	ProteinName  string `json:"protein_name,omitempty"`
	Target       string `json:"target,omitempty"`
	// Receptor is the uploaded receptor docked into instead of a target.
	Receptor      *Receptor   `json:"receptor,omitempty"`
	Status        string      `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Paused        bool        `json:"paused"`
	Progress      Progress    `json:"progress"`
	Milestones    []Milestone `json:"milestones"`
	FinalizeState string      `json:"finalize_state,omitempty" enum:"pending,leased,done,failed"`
	Error         string      `json:"error,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	StartedAt     *time.Time  `json:"started_at,omitempty"`
	FinishedAt    *time.Time  `json:"finished_at,omitempty"`
	StatusURL     string      `json:"status_url"`
	ResultsURL    string      `json:"results_url"`
}

// BatchList is a page of a user's batches, newest first.
type BatchList struct {
	Batches    []Batch `json:"batches"`
	Page       int     `json:"page"`
	PageSize   int     `json:"page_size"`
	HasMore    bool    `json:"has_more"`
	NextCursor string  `json:"next_cursor,omitempty" doc:"pass as cursor for the next page"`
}

// ListQuery pages a list.
type ListQuery struct {
	Page     int    `query:"page" doc:"1-based page number"`
	PageSize int    `query:"page_size" doc:"rows per page (default 50, at most 500)"`
	Cursor   string `query:"cursor" doc:"next_cursor of the previous page; overrides page"`
	Status   string `query:"status" enum:"pending,running,completed,failed,cancelled"`
	Model    string `query:"model" doc:"only this model's work"`
	Q        string `query:"q" doc:"only entries whose name contains this (ASCII case ignored)"`
	Sort     string `query:"sort" enum:"newest,oldest,name,name_desc" doc:"order (default newest first)"`
	// IncludeJobs lists individual jobs too, as entries of kind job.
	IncludeJobs bool `query:"include_jobs" doc:"list individual jobs too (kind job)"`
}

// Kinds of BatchList entries.
const (
	KindBatch = "batch"
	KindJob   = "job"
)

// Metric describes a number a model reports: its unit and which way is
// better.
type Metric struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Unit        string `json:"unit" doc:"e.g. kcal/mol; empty when unitless"`
	Better      string `json:"better" enum:"lower,higher"`
	Primary     bool   `json:"primary,omitempty" doc:"the model's ranking score"`
	Description string `json:"description,omitempty"`
}

// Job is one job: an individual prediction or a child of a batch.
type Job struct {
	JobID          string             `json:"job_id"`
	BatchID        string             `json:"batch_id,omitempty"`
	Type           string             `json:"type" enum:"INDIVIDUAL,BATCH_PARENT,BATCH_CHILD"`
	JobName        string             `json:"job_name"`
	ModelName      string             `json:"model_name"`
	ModelVersion   string             `json:"model_version,omitempty"`
	Status         string             `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Attempt        int                `json:"attempt"`
	MaxAttempts    int                `json:"max_attempts"`
	Error          string             `json:"error,omitempty"`
	LigandName     string             `json:"ligand_name,omitempty"`
	SMILES         string             `json:"smiles,omitempty"`
	Metrics        map[string]float64 `json:"metrics,omitempty"`
	MetricInfo     []Metric           `json:"metric_info,omitempty" doc:"units and directions of metrics"`
	Files          []string           `json:"files,omitempty"`
	ReusedFrom     string             `json:"reused_from,omitempty" doc:"the job whose identical work this one reused"`
	ElapsedSeconds float64            `json:"elapsed_seconds,omitempty"`
	CreatedAt      time.Time          `json:"created_at"`
	StartedAt      *time.Time         `json:"started_at,omitempty"`
	FinishedAt     *time.Time         `json:"finished_at,omitempty"`
	FilesURL       string             `json:"files_url,omitempty" doc:"prefix of the job's file URLs: append a file name"`
}

// ResultsQuery selects, sorts and pages a batch's results.
type ResultsQuery struct {
	Page     int    `query:"page" doc:"1-based page number"`
	PageSize int    `query:"page_size" doc:"rows per page (default 50, at most 10000)"`
	Cursor   string `query:"cursor" doc:"next_cursor of the previous page; overrides page"`
	Sort     string `query:"sort" doc:"affinity (the primary score), any metric name, ligand_name, index or status; default: the primary score, best first"`
	Order    string `query:"order" enum:"asc,desc" doc:"default: best first for scores, ascending otherwise"`
	Q        string `query:"q" doc:"case-insensitive substring of the ligand name or SMILES"`
	Status   string `query:"status" enum:"pending,running,completed,failed,cancelled"`
}

// ResultsPage is a page of a batch's results table.
type ResultsPage struct {
	BatchID string `json:"batch_id"`
	Status  string `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Model   string `json:"model_name"`
	// Affinity describes the rows' affinity column: the model's primary
	// score, its unit and direction.
	Affinity   Metric      `json:"affinity"`
	Metrics    []Metric    `json:"metrics"`
	Sort       string      `json:"sort"`
	Order      string      `json:"order" enum:"asc,desc"`
	Page       int         `json:"page"`
	PageSize   int         `json:"page_size"`
	Total      int         `json:"total" doc:"rows matching the filters"`
	TotalPages int         `json:"total_pages"`
	NextCursor string      `json:"next_cursor,omitempty"`
	Rows       []ResultRow `json:"rows"`
}

// ResultRow is one ligand's result.
type ResultRow struct {
	JobID      string             `json:"job_id"`
	Index      int                `json:"index" doc:"0-based position in the submitted library"`
	LigandName string             `json:"ligand_name"`
	SMILES     string             `json:"smiles"`
	Status     string             `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Affinity   *float64           `json:"affinity" doc:"the model's primary score (see the page's affinity metric); null until completed"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	Error      string             `json:"error,omitempty"`
	ReusedFrom string             `json:"reused_from,omitempty"`
}

// Batch control actions: POST /api/v3/batches/{batch_id}/control/{action}.
const (
	ActionPause       = "pause"
	ActionResume      = "resume"
	ActionCancel      = "cancel"
	ActionRetryFailed = "retry_failed"
)

// ControlResponse answers a batch control action.
type ControlResponse struct {
	Action   string `json:"action" enum:"pause,resume,cancel,retry_failed"`
	Affected int    `json:"affected" doc:"jobs the action changed (retry_failed: jobs put back)"`
	Batch    Batch  `json:"batch"`
}

// MetricStats are one metric's statistics over a batch's completed jobs.
type MetricStats struct {
	Metric
	Count  int        `json:"count"`
	Min    *float64   `json:"min"`
	Max    *float64   `json:"max"`
	Mean   *float64   `json:"mean"`
	Median *float64   `json:"median"`
	Std    *float64   `json:"std" doc:"population standard deviation"`
	Best   *ResultRow `json:"best"`
}

// HistogramBin counts values in [Low, High).
type HistogramBin struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Count int     `json:"count"`
}

// Analytics are a batch's statistics, top ligands and the distribution of
// its primary score.
type Analytics struct {
	BatchID     string         `json:"batch_id"`
	Status      string         `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Progress    Progress       `json:"progress"`
	SuccessRate float64        `json:"success_rate" doc:"completed / total, 0 to 1"`
	Affinity    Metric         `json:"affinity"`
	Metrics     []MetricStats  `json:"metrics"`
	Top         []ResultRow    `json:"top" doc:"best ten by the primary score"`
	Histogram   []HistogramBin `json:"histogram" doc:"distribution of the primary score"`
}

// Model describes a model and whether this deployment can run it.
type Model struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description"`
	Resource    string   `json:"resource" enum:"cpu,gpu"`
	Available   bool     `json:"available"`
	Reason      string   `json:"reason,omitempty" doc:"why it cannot run here"`
	Ligands     bool     `json:"ligands" doc:"takes a ligand library"`
	Fields      []Field  `json:"fields"`
	Metrics     []Metric `json:"metrics"`
}

// Field is one input of a model.
type Field struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Type     string   `json:"type" enum:"string,integer,number,boolean,enum,sequence,target,text,structure,box"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Help     string   `json:"help,omitempty"`
	Top      bool     `json:"top,omitempty" doc:"a field of the request body itself rather than of parameters"`
}

// ModelList lists the models.
type ModelList struct {
	Models []Model `json:"models"`
}

// Me is the signed-in user and their limits.
type Me struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Tier   string `json:"tier" enum:"default,premium,enterprise"`
	Limits Limits `json:"limits"`
}

// Limits are a tier's limits.
type Limits struct {
	SubmitPerMinute    int `json:"submit_per_minute"`
	ReadPerMinute      int `json:"read_per_minute"`
	MaxLigandsPerBatch int `json:"max_ligands_per_batch"`
	MaxRunning         int `json:"max_running" doc:"jobs running at once"`
}

// QueueStats are the queue's numbers across all users.
type QueueStats struct {
	Queued        int `json:"queued" doc:"pending jobs that may start now"`
	Delayed       int `json:"delayed" doc:"pending jobs waiting for a retry"`
	Running       int `json:"running"`
	ActiveBatches int `json:"active_batches"`
	PausedBatches int `json:"paused_batches"`
	Finalizing    int `json:"finalizing"`
}

// SystemStatus answers /api/v3/batch-completion/status.
type SystemStatus struct {
	Status string     `json:"status" enum:"ok,degraded"`
	Time   time.Time  `json:"time"`
	Queue  QueueStats `json:"queue"`
	Models []Model    `json:"models"`
}

// ActiveBatches answers /api/v3/batch-completion/active-batches: the
// caller's pending and running batches.
type ActiveBatches struct {
	Batches []BatchProgress `json:"batches"`
}

// BatchProgress is a batch's progress with its milestones and pace.
type BatchProgress struct {
	BatchID        string      `json:"batch_id"`
	JobName        string      `json:"job_name"`
	Status         string      `json:"status" enum:"pending,running,completed,failed,cancelled"`
	Paused         bool        `json:"paused"`
	Progress       Progress    `json:"progress"`
	Milestones     []Milestone `json:"milestones"`
	ElapsedSeconds float64     `json:"elapsed_seconds"`
	JobsPerMinute  float64     `json:"jobs_per_minute" doc:"ended jobs per minute since the batch started"`
	EtaSeconds     *float64    `json:"eta_seconds,omitempty" doc:"estimated seconds to the end at the current pace"`
}

// HealthCheck is one dependency's health.
type HealthCheck struct {
	Name   string `json:"name"`
	Status string `json:"status" enum:"ok,unavailable"`
	Error  string `json:"error,omitempty"`
}

// SystemHealth answers /api/v3/batch-completion/system-health.
type SystemHealth struct {
	Status string        `json:"status" enum:"healthy,degraded,unhealthy"`
	Checks []HealthCheck `json:"checks"`
	Queue  QueueStats    `json:"queue"`
}

// WebhookEvent is the body of a batch completion webhook.
type WebhookEvent struct {
	Event      string    `json:"event" enum:"batch.completed"`
	BatchID    string    `json:"batch_id"`
	JobName    string    `json:"job_name"`
	Status     string    `json:"status" enum:"completed,failed,cancelled"`
	Progress   Progress  `json:"progress"`
	FinishedAt time.Time `json:"finished_at"`
	ResultsURL string    `json:"results_url" doc:"path of the results under the hub's address"`
}

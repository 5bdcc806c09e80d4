package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"omtx/api"
	"omtx/chem/ligands"
	"omtx/chem/protein"
	"omtx/gpu"
	"omtx/jobs"
	"omtx/results"
	"omtx/tracing"
)

// Submission limits.
const (
	maxJobNameLen       = 200 // runes
	minWebhookSecretLen = 16  // characters
)

// plan is a checked submission's shared part.
type plan struct {
	model   gpu.Model
	info    gpu.Info
	input   gpu.Input // normalized
	name    string
	webhook *jobs.Webhook
	// receptorPDB is an uploaded receptor as the PDB text stored under
	// gpu.ReceptorKey(input.Receptor.SHA256); nil without one.
	receptorPDB []byte
}

// planRequest is what a submission asks for, whatever its route.
type planRequest struct {
	Model, JobName, Sequence, ProteinName, Target string
	Receptor                                      *api.ReceptorUpload
	Parameters                                    json.RawMessage
	Webhook                                       *api.Webhook
}

// workKey is what makes two jobs identical work: the model's input
// without labels (protein and ligand names), with the ligand's SMILES as
// chem writes it. The model and its version are added by jobs.ContentKey.
type workKey struct {
	ProteinSequence string          `json:"protein_sequence,omitempty"`
	Target          string          `json:"target,omitempty"`
	Receptor        string          `json:"receptor,omitempty"` // the uploaded receptor's digest
	Parameters      json.RawMessage `json:"parameters,omitempty"`
	SMILES          string          `json:"smiles,omitempty"`
}

func (p *plan) contentKey(canonicalSMILES string) (string, error) {
	k := workKey{
		ProteinSequence: p.input.ProteinSequence,
		Target:          p.input.Target,
		Parameters:      p.input.Parameters,
		SMILES:          canonicalSMILES,
	}
	if p.input.Receptor != nil {
		k.Receptor = p.input.Receptor.SHA256
	}
	return jobs.ContentKey(p.info.Name, p.info.Version, k)
}

// submittable returns the named model if this deployment takes
// submissions for it.
func (s *Service) submittable(ctx context.Context, name string) (gpu.Model, error) {
	name = strings.TrimSpace(name)
	all := strings.Join(s.modelNames(), ", ")
	if name == "" {
		return nil, jobs.FieldError("model_name", "is required (one of %s)", all)
	}
	m, ok := s.models.Get(name)
	if !ok {
		return nil, jobs.FieldError("model_name", "unknown model %q (one of %s)", name, all)
	}
	if !s.accepts(name) {
		why := "this deployment does not take submissions for it"
		for _, a := range s.availability(ctx) {
			if a.Info.Name == name && a.Reason != "" {
				why += " (" + a.Reason + ")"
			}
		}
		return nil, jobs.FieldError("model_name", "%s cannot run here: %s; accepted: %s", name, why, strings.Join(s.acceptedNames(), ", "))
	}
	return m, nil
}

// acceptedNames lists the models this deployment takes, sorted.
func (s *Service) acceptedNames() []string {
	var out []string
	for _, n := range s.modelNames() {
		if s.accepts(n) {
			out = append(out, n)
		}
	}
	return out
}

// plan checks everything a submission's jobs share: the model, the
// protein or target, the parameters (by the model), the name and the
// webhook.
func (s *Service) plan(ctx context.Context, r planRequest) (*plan, error) {
	m, err := s.submittable(ctx, r.Model)
	if err != nil {
		return nil, err
	}
	p := &plan{model: m, info: m.Info()}
	raw, err := compactParams(r.Parameters)
	if err != nil {
		return nil, err
	}
	p.input = gpu.Input{ProteinName: strings.TrimSpace(r.ProteinName), ProteinSequence: r.Sequence,
		Target: strings.TrimSpace(r.Target), Parameters: raw}
	if r.Receptor != nil {
		if p.input.Receptor, p.receptorPDB, err = readReceptor(p.info, *r.Receptor); err != nil {
			return nil, err
		}
	}
	if err := m.Validate(p.input); err != nil {
		return nil, inputError(err, p.info)
	}
	p.input = normalize(p.input, p.info)
	p.name = strings.TrimSpace(r.JobName)
	if utf8.RuneCountInString(p.name) > maxJobNameLen {
		return nil, jobs.FieldError("job_name", "must be at most %d characters", maxJobNameLen)
	}
	if err := checkLabel("job_name", p.name); err != nil {
		return nil, err
	}
	if err := checkLabel("protein_name", p.input.ProteinName); err != nil {
		return nil, err
	}
	if r.Webhook != nil {
		w, err := checkWebhook(*r.Webhook)
		if err != nil {
			return nil, err
		}
		p.webhook = w
	}
	return p, nil
}

// checkLabel refuses a name shown on pages, in files and in exports that
// is not UTF-8 text or holds control characters (NUL, line breaks, escape
// sequences) or bidirectional formatting characters, which make a name
// read as something else ("exe.\u202etxt.scr").
func checkLabel(field, s string) error {
	if !utf8.ValidString(s) {
		return jobs.FieldError(field, "must be UTF-8 text")
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return jobs.FieldError(field, "must not hold control or bidirectional formatting characters (%U at byte %d)", r, i)
	}
	return nil
}

// compactParams checks that parameters are absent, null or one JSON
// object, and compacts them.
func compactParams(raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, jobs.FieldError("parameters", "must be a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, jobs.FieldError("parameters", "must be a JSON object")
	}
	return b.Bytes(), nil
}

// topFields are the fields of the submit body itself; any other field a
// model's validation names is one of its parameters.
var topFields = map[string]bool{"protein_sequence": true, "protein_name": true, "target": true, "parameters": true,
	"model_name": true, "job_name": true, "ligands": true, "receptor": true}

// inputError names a model's validation error by its place in the request
// body: parameters are "parameters.NAME".
func inputError(err error, info gpu.Info) error {
	var je *jobs.Error
	if !errors.As(err, &je) {
		return jobs.FieldError("parameters", "%v", err)
	}
	if je.Field == "" || topFields[je.Field] || strings.HasPrefix(je.Field, "parameters.") {
		return err
	}
	for _, f := range info.Fields {
		if f.Top && f.Name == je.Field {
			return err
		}
	}
	return &jobs.Error{Code: je.Code, Field: "parameters." + je.Field, Message: je.Message}
}

// normalize writes an input the model accepted in one form: the protein
// sequence cleaned as the models clean it (whitespace removed, upper
// case, a final '*' dropped) and the target as the model spells it.
func normalize(in gpu.Input, info gpu.Info) gpu.Input {
	if in.ProteinSequence != "" {
		if seq, err := protein.Normalize(in.ProteinSequence, protein.Options{MinLength: 1, MaxLength: -1,
			AllowUnknown: true, AllowAmbiguous: true}); err == nil {
			in.ProteinSequence = seq
		} else {
			in.ProteinSequence = strings.TrimSpace(in.ProteinSequence)
		}
	}
	if in.Target != "" {
		for _, f := range info.Fields {
			if f.Name != "target" {
				continue
			}
			for _, id := range f.Enum {
				if strings.EqualFold(id, in.Target) {
					in.Target = id
				}
			}
		}
	}
	return in
}

// checkWebhook checks a completion webhook: an http or https URL with a
// host, and a secret of at least 16 characters.
func checkWebhook(h api.Webhook) (*jobs.Webhook, error) {
	raw := strings.TrimSpace(h.URL)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, jobs.FieldError("webhook.url", "must be an http or https URL with a host")
	}
	if u.User != nil {
		return nil, jobs.FieldError("webhook.url", "must not hold credentials; the secret signs each call")
	}
	if utf8.RuneCountInString(h.Secret) < minWebhookSecretLen {
		return nil, jobs.FieldError("webhook.secret", "must be at least %d characters", minWebhookSecretLen)
	}
	return &jobs.Webhook{URL: raw, Secret: h.Secret}, nil
}

// SubmitBatch submits a batch: one child job per ligand. Every ligand is
// checked (a name, or "ligand_<row>" when it has none, as in library
// files; a SMILES that chem parses and the model accepts). Any invalid
// ligand refuses the whole batch with a *ligands.Error listing every
// problem by row, unless drop_invalid is set: then the valid ligands are
// submitted and the others listed in Dropped. Duplicate names are allowed
// (each child has its own index), as in library files.
//
// After the store has recorded the batch, batch_index.json and
// batch_metadata.json are written. If that fails the batch is cancelled
// (its results could not be stored either) and an internal error is
// returned, so that a caller never holds the id of a batch that runs
// without its files.
func (s *Service) SubmitBatch(ctx context.Context, c Caller, req api.SubmitBatchRequest) (*api.SubmitBatchResponse, error) {
	p, err := s.plan(ctx, planRequest{Model: req.ModelName, JobName: req.JobName, Sequence: req.ProteinSequence,
		ProteinName: req.ProteinName, Target: req.Target, Receptor: req.Receptor, Parameters: req.Parameters, Webhook: req.Webhook})
	if err != nil {
		return nil, err
	}
	if !p.info.Ligands {
		return nil, jobs.FieldError("model_name", "%s does not screen ligands; submit it with /predict", p.info.Name)
	}
	if len(req.Ligands) == 0 {
		return nil, jobs.FieldError("ligands", "at least one ligand is required")
	}
	if c.MaxLigandsPerBatch > 0 && len(req.Ligands) > c.MaxLigandsPerBatch {
		return nil, jobs.FieldError("ligands", "%d ligands exceed your tier's limit of %d per batch", len(req.Ligands), c.MaxLigandsPerBatch)
	}
	valid, problems := checkList(validatorOf(p.model), req.Ligands)
	return s.submitBatch(ctx, c, p, valid, problems, req.DropInvalid, func(i int) string { return req.Ligands[i].SMILES })
}

// SubmitLibrary submits a batch whose ligands come from an uploaded file
// (CSV, TSV, .smi or SDF, by its name or content); req.Ligands is ignored.
// The file's rows are checked as SubmitBatch checks ligands, and problems
// carry their row and line.
func (s *Service) SubmitLibrary(ctx context.Context, c Caller, req api.SubmitBatchRequest, file io.Reader, filename string) (*api.SubmitBatchResponse, error) {
	p, err := s.plan(ctx, planRequest{Model: req.ModelName, JobName: req.JobName, Sequence: req.ProteinSequence,
		ProteinName: req.ProteinName, Target: req.Target, Receptor: req.Receptor, Parameters: req.Parameters, Webhook: req.Webhook})
	if err != nil {
		return nil, err
	}
	if !p.info.Ligands {
		return nil, jobs.FieldError("model_name", "%s does not screen ligands; submit it with /predict", p.info.Name)
	}
	valid, problems, err := readLibrary(file, filename, validatorOf(p.model), c.MaxLigandsPerBatch)
	if err != nil {
		return nil, err
	}
	return s.submitBatch(ctx, c, p, valid, problems, req.DropInvalid, nil)
}

// submitBatch applies the all-or-nothing policy and records the batch.
// smilesOf gives an invalid row's SMILES as the caller wrote it, when known.
func (s *Service) submitBatch(ctx context.Context, c Caller, p *plan, valid []checked, problems []ligands.Problem, drop bool, smilesOf func(int) string) (*api.SubmitBatchResponse, error) {
	if len(problems) > 0 && !drop {
		return nil, &ligands.Error{Problems: problems}
	}
	if len(valid) == 0 {
		return nil, &ligands.Error{Problems: append([]ligands.Problem{{Code: ligands.CodeNoValid,
			Message: fmt.Sprintf("none of the %d ligands is valid", len(problems))}}, problems...)}
	}
	var dropped []api.LigandCheck
	for _, pr := range problems {
		lc := badCheck(pr)
		if smilesOf != nil {
			lc.SMILES, lc.Row = smilesOf(lc.Index), 0
		}
		dropped = append(dropped, lc)
	}
	input, err := json.Marshal(p.input)
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	children := make([]jobs.ChildSubmission, len(valid))
	for i, l := range valid {
		in, err := json.Marshal(gpu.Ligand{Name: l.name, SMILES: l.smiles})
		if err != nil {
			return nil, fmt.Errorf("submit: %w", err)
		}
		key, err := p.contentKey(l.canonical)
		if err != nil {
			return nil, err
		}
		children[i] = jobs.ChildSubmission{Name: l.name, Input: in, ContentKey: key}
	}
	name := p.name
	if name == "" {
		name = fmt.Sprintf("%s screen of %d ligands", p.info.Name, len(valid))
	}
	if err := s.storeReceptor(ctx, p); err != nil {
		return nil, err
	}
	parent, err := s.store.Submit(ctx, jobs.Submission{
		UserID: c.UserID, Model: p.info.Name, ModelVersion: p.info.Version, Name: name, Input: input,
		Children: children, MaxRunning: c.MaxRunning, RequestID: c.RequestID, TraceContext: tracing.Inject(ctx), Webhook: p.webhook,
		IdempotencyKey: c.IdempotencyKey,
	})
	var earlier *jobs.SubmittedError
	if errors.As(err, &earlier) {
		return s.replayBatch(ctx, earlier.Job, len(children), p.info, dropped)
	}
	if err != nil {
		return nil, err
	}
	if err := s.writeBatchStart(ctx, parent, len(children), p.info); err != nil {
		s.log.Error("batch files not written; cancelling the batch", "batch", parent.ID, "err", err)
		if _, cerr := s.store.BatchCancel(context.WithoutCancel(ctx), c.UserID, parent.ID); cerr != nil {
			s.log.Error("cancel batch without files", "batch", parent.ID, "err", cerr)
		}
		return nil, fmt.Errorf("submit: write files of batch %s: %v", parent.ID, err)
	}
	return &api.SubmitBatchResponse{BatchID: parent.ID, StatusURL: batchURL(parent.ID), ResultsURL: resultsURL(parent.ID),
		TotalJobs: len(children), Dropped: dropped}, nil
}

// replayBatch answers a batch submission that repeats an earlier one under
// the same idempotency key with the earlier batch, as the first answer
// would have. A batch whose files are missing had its first answer cut
// short between the store and the files (a crash, a lost write): they are
// written now. A cancelled batch is not answered as if it were running:
// it was cancelled because its files could not be written (or by its
// owner since), which is a conflict that a new key resolves.
func (s *Service) replayBatch(ctx context.Context, parent *jobs.Job, n int, info gpu.Info, dropped []api.LigandCheck) (*api.SubmitBatchResponse, error) {
	if parent.Status == jobs.StatusCancelled || parent.CancelRequested {
		return nil, &jobs.Error{Code: jobs.ErrConflict, Field: jobs.IdempotencyField, Message: fmt.Sprintf(
			"the batch %s submitted under this key was cancelled; submit again with a new key", parent.ID)}
	}
	_, err := s.results.Size(ctx, results.BatchDir(parent.ID)+"/"+results.FileBatchIndex)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		err = s.writeBatchStart(ctx, parent, n, info)
	}
	if err != nil {
		return nil, fmt.Errorf("submit: files of batch %s: %w", parent.ID, err)
	}
	return &api.SubmitBatchResponse{BatchID: parent.ID, StatusURL: batchURL(parent.ID), ResultsURL: resultsURL(parent.ID),
		TotalJobs: n, Dropped: dropped, Replayed: true}, nil
}

// writeBatchStart writes batch_index.json and batch_metadata.json.
func (s *Service) writeBatchStart(ctx context.Context, parent *jobs.Job, n int, info gpu.Info) error {
	children, err := s.children(ctx, parent.UserID, parent.ID, n)
	if err != nil {
		return err
	}
	return s.results.WriteBatchStart(ctx, parent, children, results.BatchMetadata{Metrics: info.Metrics})
}

// Predict submits one prediction: an individual job with its ligand (for
// models that take one).
func (s *Service) Predict(ctx context.Context, c Caller, req api.PredictRequest) (*api.PredictResponse, error) {
	p, err := s.plan(ctx, planRequest{Model: req.ModelName, JobName: req.JobName, Sequence: req.ProteinSequence,
		ProteinName: req.ProteinName, Target: req.Target, Receptor: req.Receptor, Parameters: req.Parameters})
	if err != nil {
		return nil, err
	}
	in := gpu.JobInput{Input: p.input}
	canonical := ""
	if p.info.Ligands {
		l, pr := checkLigand(validatorOf(p.model), 0, 1, req.LigandName, req.LigandSMILES)
		if pr != nil {
			return nil, jobs.FieldError("ligand_smiles", "%s", pr.Message)
		}
		in.Ligand = &gpu.Ligand{Name: l.name, SMILES: l.smiles}
		canonical = l.canonical
	} else if strings.TrimSpace(req.LigandSMILES) != "" {
		return nil, jobs.FieldError("ligand_smiles", "%s takes no ligand", p.info.Name)
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	key, err := p.contentKey(canonical)
	if err != nil {
		return nil, err
	}
	name := p.name
	if name == "" {
		name = p.info.Name
		if in.Ligand != nil {
			name += " " + in.Ligand.Name
		}
	}
	if err := s.storeReceptor(ctx, p); err != nil {
		return nil, err
	}
	j, err := s.store.Submit(ctx, jobs.Submission{UserID: c.UserID, Model: p.info.Name, ModelVersion: p.info.Version,
		Name: name, Input: raw, ContentKey: key, MaxRunning: c.MaxRunning, RequestID: c.RequestID,
		TraceContext: tracing.Inject(ctx), IdempotencyKey: c.IdempotencyKey})
	var earlier *jobs.SubmittedError
	if errors.As(err, &earlier) {
		j = earlier.Job
	} else if err != nil {
		return nil, err
	}
	return &api.PredictResponse{JobID: j.ID, Status: string(j.Status), StatusURL: jobURL(j.ID), Replayed: earlier != nil}, nil
}

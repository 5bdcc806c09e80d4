// Package gpu is the runner: it leases work from the job store, prepares
// it, runs the model's program as a child process, writes the results into
// the storage hierarchy and completes the job, heartbeating all along. Each
// model is an adapter in a folder of its own (gpu/vina, gpu/boltz2, ...)
// that implements Model.
package gpu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"omtx/results"
)

// Resource is the kind of node a model needs.
type Resource string

// Resources.
const (
	CPU Resource = "cpu"
	GPU Resource = "gpu"
)

// FieldType is the type of an input field.
type FieldType string

// Field types. The web form and the API's validation are generated from
// these.
const (
	FieldString   FieldType = "string"
	FieldInteger  FieldType = "integer"
	FieldNumber   FieldType = "number"
	FieldBoolean  FieldType = "boolean"
	FieldEnum     FieldType = "enum"
	FieldSequence FieldType = "sequence" // a protein sequence
	FieldTarget   FieldType = "target"   // a bundled target id
	FieldText     FieldType = "text"     // multi-line text (PDB, FASTA)
	// FieldStructure is an uploaded structure file (PDB or mmCIF): the
	// submit body's receptor, read and stored by the hub (see Receptor).
	FieldStructure FieldType = "structure"
	// FieldBox is a docking box: center_x..z and size_x..z in Å.
	FieldBox FieldType = "box"
)

// Field is one input a model takes, in Input.Parameters unless Top is set.
type Field struct {
	Name     string    `json:"name"`
	Label    string    `json:"label"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required,omitempty"`
	Default  any       `json:"default,omitempty"`
	Min      *float64  `json:"min,omitempty"`
	Max      *float64  `json:"max,omitempty"`
	Enum     []string  `json:"enum,omitempty"`
	Help     string    `json:"help,omitempty"`
	// Top marks a field of Input itself (protein_sequence, target) rather
	// than of Input.Parameters.
	Top bool `json:"top,omitempty"`
}

// Info describes a model adapter.
type Info struct {
	Name        string           `json:"name"`
	Version     string           `json:"version"`
	Description string           `json:"description"`
	Resource    Resource         `json:"resource"`
	Fields      []Field          `json:"fields"`
	Metrics     []results.Metric `json:"metrics"`
	// Ligands says whether the model screens small molecules (one child
	// job per ligand).
	Ligands bool `json:"ligands"`
}

// Primary returns the model's ranking metric.
func (i Info) Primary() (results.Metric, bool) {
	for _, m := range i.Metrics {
		if m.Primary {
			return m, true
		}
	}
	return results.Metric{}, false
}

// Input is what a job (or a batch, for all its children) asks of a model,
// in the shape of the API's submit body.
type Input struct {
	ProteinName     string `json:"protein_name,omitempty"`
	ProteinSequence string `json:"protein_sequence,omitempty"`
	Target          string `json:"target,omitempty"`
	// Receptor is an uploaded receptor structure, stored once as PDB text
	// under ReceptorKey(SHA256); the runner hands it to the model as
	// Task.Receptor.
	Receptor   *Receptor       `json:"receptor,omitempty"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// Receptor describes an uploaded receptor structure.
type Receptor struct {
	// Name is the uploaded file's name.
	Name string `json:"name"`
	// Format is the uploaded file's format: pdb or cif.
	Format string `json:"format"`
	// SHA256 is the hex digest of the stored PDB text.
	SHA256   string   `json:"sha256"`
	Atoms    int      `json:"atoms"`
	Residues int      `json:"residues"`
	Chains   []string `json:"chains"`
}

// ReceptorKey is where an uploaded receptor's PDB text is stored in the
// results bucket, by its digest: identical uploads are stored once.
func ReceptorKey(sha256 string) string { return "inputs/receptors/" + sha256 + ".pdb" }

// Ligand is one small molecule of a job.
type Ligand struct {
	Name   string `json:"name"`
	SMILES string `json:"smiles"`
}

// Task is one job for a model to run.
type Task struct {
	JobID string
	Input Input
	// Ligand is set for models that take ligands.
	Ligand Ligand
	// Receptor is the local path of Input.Receptor's PDB text; "" when the
	// input has no uploaded receptor.
	Receptor string
	// Dir is an empty working folder for this attempt; the adapter puts its
	// program's inputs and outputs here.
	Dir string
	// Cache holds preparation shared across tasks (receptors, MSAs).
	Cache *Cache
	// Exec runs the model's programs; their output goes to the job's log.
	Exec Executor
	// Log receives the adapter's own notes for the job's logs.txt.
	Log io.Writer
}

// Output is a finished task.
type Output struct {
	// Metrics are the numbers named by Info.Metrics.
	Metrics map[string]float64
	// Details is model-specific detail for results.json (poses, per-chain
	// scores...); it must encode to a JSON object.
	Details any
	// Files are files of Dir to keep, by their name in the job's folder
	// ("structure.cif", "poses.sdf", ...).
	Files map[string]string
}

// Model is a model adapter.
type Model interface {
	Info() Info
	// Check tells whether this host can run the model: nil when it can,
	// otherwise an error saying what is missing.
	Check(ctx context.Context) error
	// Validate checks a job's input before it is accepted; errors are
	// *jobs.Error values naming the field.
	Validate(in Input) error
	// Run runs one task. It returns a *PermanentError for input the model
	// can never succeed on; any other error is retried.
	Run(ctx context.Context, t Task) (*Output, error)
}

// PermanentError is a failure that another attempt cannot fix (the
// engine rejected the input).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Permanentf formats a permanent error.
func Permanentf(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err is marked permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// BatchModel is a model that runs many tasks in one engine process, so its
// weights load once (boltz predict over a folder of inputs). done is
// called for each task as its files appear, in any order, and at most once
// per task; tasks it was never called for when RunMany returns failed with
// RunMany's error.
type BatchModel interface {
	Model
	RunMany(ctx context.Context, tasks []Task, done func(i int, out *Output, err error)) error
}

package views

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"omtx/api"
)

// JobView is the view model of a job's page: the job as the API shows it
// and, for a batch's child, its batch.
type JobView struct {
	Job api.Job
	// Batch is the job's batch; nil for an individual job.
	Batch *api.Batch
	Now   time.Time
}

// Title is the page's heading: the ligand, else the job's name.
func (v JobView) Title() string {
	if v.Job.LigandName != "" {
		return v.Job.LigandName
	}
	if v.Job.JobName != "" {
		return v.Job.JobName
	}
	return "Job " + v.Job.JobID
}

// Input is one input of the job, as a label and its value.
type Input struct {
	Label, Value, TestID string
	// Mono shows the value in a monospaced font (SMILES, ids).
	Mono bool
}

// Inputs are what the job was given: the ligand, the model and, for a
// batch's child, the batch's target. Empty ones are left out.
func (v JobView) Inputs() []Input {
	j := v.Job
	in := []Input{
		{Label: "Ligand", Value: j.LigandName, TestID: "input-ligand"},
		{Label: "SMILES", Value: j.SMILES, TestID: "input-smiles", Mono: true},
		{Label: "Model", Value: ModelLabel(j.ModelName, j.ModelVersion), TestID: "input-model"},
		{Label: "Job name", Value: j.JobName, TestID: "input-name"},
	}
	if v.Batch != nil {
		rv := ResultsView{Batch: *v.Batch}
		in = append(in, Input{Label: "Target", Value: rv.Target(), TestID: "input-target"})
	}
	in = append(in, Input{Label: "Job id", Value: j.JobID, TestID: "input-id", Mono: true})
	if j.ReusedFrom != "" {
		in = append(in, Input{Label: "Reused the identical work of job", Value: j.ReusedFrom, TestID: "input-reused", Mono: true})
	}
	out := in[:0]
	for _, x := range in {
		if x.Value != "" {
			out = append(out, x)
		}
	}
	return out
}

// MetricRow is one metric of the job with its unit and direction.
type MetricRow struct {
	Name      string
	Label     string
	Value     string
	Unit      string
	Direction string
	Primary   bool
}

// Metrics are every metric the job reported: the model's described
// metrics first, in the model's order, then any others by name (their
// direction unknown).
func (v JobView) Metrics() []MetricRow {
	var out []MetricRow
	seen := map[string]bool{}
	for _, m := range v.Job.MetricInfo {
		x, ok := v.Job.Metrics[m.Name]
		if !ok {
			continue
		}
		seen[m.Name] = true
		out = append(out, MetricRow{Name: m.Name, Label: labelOf(m), Value: FormatValue(x), Unit: m.Unit, Direction: Direction(m), Primary: m.Primary})
	}
	var rest []string
	for name := range v.Job.Metrics {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		out = append(out, MetricRow{Name: name, Label: name, Value: FormatValue(v.Job.Metrics[name]), Direction: "direction not stated"})
	}
	return out
}

// Meaning says what a metric's number means: its unit, which way is
// better and whether the model ranks by it.
func (r MetricRow) Meaning() string {
	parts := []string{}
	if r.Unit != "" {
		parts = append(parts, r.Unit)
	}
	parts = append(parts, r.Direction)
	if r.Primary {
		parts = append(parts, "the model's ranking score")
	}
	return strings.Join(parts, ", ")
}

// File is a file of the job's folder and its download URL.
type File struct {
	Name, URL string
}

// Files are the job's files with their API download URLs, logs.txt last.
func (v JobView) Files() []File {
	var out []File
	var logs *File
	for _, name := range v.Job.Files {
		f := File{Name: name, URL: v.Job.FilesURL + url.PathEscape(name)}
		if name == LogsFile {
			logs = &f
			continue
		}
		out = append(out, f)
	}
	if logs != nil {
		out = append(out, *logs)
	}
	return out
}

// LogsFile is the name of a job's log.
const LogsFile = "logs.txt"

// LogsURL is the job's log, "" when it has none.
func (v JobView) LogsURL() string {
	if slices.Contains(v.Job.Files, LogsFile) {
		return v.Job.FilesURL + LogsFile
	}
	return ""
}

// Attempts is "attempt 2 of 3".
func (v JobView) Attempts() string {
	if v.Job.MaxAttempts == 0 {
		return ""
	}
	return "attempt " + strconv.Itoa(max(v.Job.Attempt, 1)) + " of " + strconv.Itoa(v.Job.MaxAttempts)
}

// Elapsed is how long the model ran, "" when unknown.
func (v JobView) Elapsed() string {
	s := v.Job.ElapsedSeconds
	if s <= 0 {
		return ""
	}
	return (time.Duration(s*10) * time.Second / 10).String()
}

// Timeline is the job's times, as label and absolute time.
func (v JobView) Timeline() []Input {
	var out []Input
	add := func(label string, t *time.Time, id string) {
		if t != nil && !t.IsZero() {
			out = append(out, Input{Label: label, Value: FormatTime(*t) + " (" + RelativeTime(*t, v.Now) + ")", TestID: id})
		}
	}
	created := v.Job.CreatedAt
	add("Created", &created, "time-created")
	add("Started", v.Job.StartedAt, "time-started")
	add("Finished", v.Job.FinishedAt, "time-finished")
	return out
}

// BatchPath is the results page of the job's batch, "" for an individual
// job.
func (v JobView) BatchPath() string {
	if v.Job.BatchID == "" {
		return ""
	}
	return BatchResultsPath(v.Job.BatchID)
}

// BatchName is the job's batch's name.
func (v JobView) BatchName() string {
	if v.Batch != nil && v.Batch.JobName != "" {
		return v.Batch.JobName
	}
	return v.Job.BatchID
}

// Package results is the hub's storage hierarchy for result files, with the
// object names of the system it replaces so that its users' scripts keep
// working:
//
//	batches/{batch_id}/batch_index.json        job registry and relationships
//	batches/{batch_id}/batch_metadata.json     batch configuration
//	batches/{batch_id}/summary.json            statistics and top predictions
//	batches/{batch_id}/jobs/{job_id}/results.json | metadata.json | structure.cif | poses.sdf | logs.txt
//	batches/{batch_id}/results/aggregated.json | summary.json | job_index.json | batch_metadata.json | batch_results.csv
//	archive/{batch_id}/batch_metadata.json
//	jobs/{job_id}/results.json | metadata.json | structure.cif   (individual jobs)
//
// Objects live in a gocloud.dev/blob bucket: file:// (the default, under the
// data directory), gs:// (Google Cloud Storage) or mem://. On every backend
// an object is written atomically: a reader sees the old object or the whole
// new one, and a failed or cancelled write leaves no object (on GCS an
// upload becomes an object only when it is finalized; a cancelled upload,
// even one that has sent chunks to a resumable session, never does).
//
// # Google Cloud Storage
//
// Open("gs://BUCKET") uses Application Default Credentials: the
// GOOGLE_APPLICATION_CREDENTIALS key file, gcloud's application-default
// login, or the service account of the GCE, GKE or Cloud Run workload. The
// account needs roles/storage.objectAdmin on the bucket (objects create,
// get, list and delete; CopyJob is a server-side copy). Ping lists at most
// one object, so it needs only storage.objects.list, not
// storage.buckets.get.
//
// Emulator: with STORAGE_EMULATOR_HOST set ("host:port" or
// "http://host:port", as for fake-gcs-server), Open talks to that emulator
// without credentials instead, and signed URLs point at it. OpenGCS opens
// a bucket through a storage.Client of the caller's own, which is how the
// tests reach an in-process fake-gcs-server.
//
// Signed URLs: SignedURL gives a V4 signed GET URL (valid for at most seven
// days) so that large files are downloaded straight from the bucket. Open
// signs as the account of the default credentials: with a service account
// key file, locally; as a workload's attached service account, through the
// IAM Credentials signBlob API, which needs
// roles/iam.serviceAccountTokenCreator on that account. User credentials
// cannot sign: SignedURL then answers ok=false and the caller streams the
// file instead. gocloud's URL parameters choose another account:
//
//	gs://BUCKET?access_id=EMAIL&private_key_path=/secrets/key.pem
//
// OpenGCS takes the account and its key or signer in GCSOptions. file://
// and mem:// cannot sign.
package results

// Direction says which way a metric is better.
type Direction string

// Directions.
const (
	LowerIsBetter  Direction = "lower"
	HigherIsBetter Direction = "higher"
)

// Metric describes one number a model reports for a job.
type Metric struct {
	Name        string    `json:"name"`  // key in JobSummary.Metrics, e.g. "affinity"
	Label       string    `json:"label"` // for people, e.g. "Best affinity"
	Unit        string    `json:"unit"`  // e.g. "kcal/mol", "log10(IC50/uM)", "" for unitless
	Better      Direction `json:"better"`
	Primary     bool      `json:"primary,omitempty"` // the model's ranking score
	Description string    `json:"description,omitempty"`
}

// Less reports whether value a ranks ahead of b under this metric.
func (m Metric) Less(a, b float64) bool {
	if m.Better == HigherIsBetter {
		return a > b
	}
	return a < b
}

// JobSummary is what a runner records as a completed job's result in the
// job store: the numbers the results table sorts and filters on. The full
// details are in the job's results.json.
type JobSummary struct {
	Metrics map[string]float64 `json:"metrics"`
	// Primary names the ranking metric.
	Primary string `json:"primary,omitempty"`
	// Files lists the names of the job's files in its folder.
	Files []string `json:"files,omitempty"`
	// ElapsedSeconds is the wall time of the engine processes for the job.
	ElapsedSeconds float64 `json:"elapsed_seconds,omitempty"`
}

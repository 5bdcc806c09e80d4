package results

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"omtx/jobs"
)

// File names inside a job folder and a batch folder.
const (
	FileResults       = "results.json"
	FileMetadata      = "metadata.json"
	FileStructure     = "structure.cif"
	FilePoses         = "poses.sdf"
	FileLogs          = "logs.txt"
	FileBatchIndex    = "batch_index.json"
	FileBatchMetadata = "batch_metadata.json"
	FileSummary       = "summary.json"
	FileAggregated    = "aggregated.json"
	FileJobIndex      = "job_index.json"
	FileBatchCSV      = "batch_results.csv"
)

// MaxIDLen is the longest ID or file name accepted as a path segment, in
// bytes.
const MaxIDLen = 200

// maxKeyLen bounds a whole object key (GCS allows 1024 bytes).
const maxKeyLen = 1024

// ValidateID checks that v (a batch ID, job ID or file name) is a safe path
// segment: not empty, not "." or "..", no "/" or "\", no control
// characters, valid UTF-8, at most MaxIDLen bytes. A bad one answers a
// jobs.ErrInvalid error naming field.
func ValidateID(field, v string) error {
	if msg := segmentProblem(v, MaxIDLen); msg != "" {
		return jobs.FieldError(field, "%s", msg)
	}
	return nil
}

// ValidateKey checks that key is a relative object key made of safe path
// segments (see ValidateID), so that no key can leave the bucket's root.
func ValidateKey(key string) error {
	if key == "" {
		return jobs.FieldError("key", "must not be empty")
	}
	if len(key) > maxKeyLen {
		return jobs.FieldError("key", "must be at most %d bytes", maxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if msg := segmentProblem(seg, 255); msg != "" {
			return jobs.FieldError("key", "%q: every path segment %s", key, msg)
		}
	}
	return nil
}

// validatePrefix checks a List prefix: empty (everything) or a key, with
// an optional trailing "/".
func validatePrefix(prefix string) error {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" && prefix == "" {
		return nil
	}
	if err := ValidateKey(p); err != nil {
		return jobs.FieldError("prefix", "%s", err.(*jobs.Error).Message)
	}
	return nil
}

func segmentProblem(s string, maxLen int) string {
	switch {
	case s == "":
		return "must not be empty"
	case s == "." || s == "..":
		return `must not be "." or ".."`
	case len(s) > maxLen:
		return "must be at most " + strconv.Itoa(maxLen) + " bytes"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if r == '/' || r == '\\' {
			return `must not contain "/" or "\"`
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "must not contain control characters"
		}
	}
	return ""
}

// BatchDir is the folder of a batch: "batches/{batch_id}".
func BatchDir(batchID string) string { return "batches/" + batchID }

// JobDir is the folder of a job: "batches/{batch_id}/jobs/{job_id}" for a
// batch child, "jobs/{job_id}" for an individual job (batchID == "").
// It does not validate; the Store's methods reject keys and IDs that are
// not safe path segments, and JobKey validates.
func JobDir(batchID, jobID string) string {
	if batchID == "" {
		return "jobs/" + jobID
	}
	return BatchDir(batchID) + "/jobs/" + jobID
}

// JobKey is the key of file name in a job's folder, after validating every
// part (batchID may be empty for an individual job).
func JobKey(batchID, jobID, name string) (string, error) {
	if err := validateJob(batchID, jobID); err != nil {
		return "", err
	}
	if err := ValidateID("name", name); err != nil {
		return "", err
	}
	return JobDir(batchID, jobID) + "/" + name, nil
}

func validateJob(batchID, jobID string) error {
	if batchID != "" {
		if err := ValidateID("batch_id", batchID); err != nil {
			return err
		}
	}
	return ValidateID("job_id", jobID)
}

// batchResultsKey is the key of name in a batch's results folder.
func batchResultsKey(batchID, name string) string {
	return BatchDir(batchID) + "/results/" + name
}

// archiveKey is the key of name in a batch's archive folder.
func archiveKey(batchID, name string) string { return "archive/" + batchID + "/" + name }

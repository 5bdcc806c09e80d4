package hub

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"omtx/api"
	"omtx/jobs"
	"omtx/results"
)

// zipFiles are the files of each child a batch ZIP holds.
var zipFiles = []string{results.FileStructure, results.FilePoses, results.FileResults}

// Export formats.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
	FormatZIP  = "zip"
)

// Export streams a batch's results:
//
//   - csv: index, job_id, ligand_name, smiles, status, one column per
//     metric headed "name (unit)" (the bare name when unitless), error; one
//     row per child in input order, text cells guarded against formula
//     injection, numbers in the shortest form that reads back exactly;
//   - json: {"batch_id", "model_name", "metrics", "rows"} with rows as the
//     results table's;
//   - zip: "{ligand}_{job_id}/" folders with each child's structure.cif,
//     poses.sdf and results.json (from the job it reused, for a child that
//     reused identical work), and batch_results.csv as the csv export.
//
// Children are read from the store a page at a time and written as they
// come, so that a large batch is never held in memory.
func (s *Service) Export(ctx context.Context, userID, batchID, format string) (*Download, error) {
	b, err := s.batch(ctx, userID, batchID)
	if err != nil {
		return nil, err
	}
	ex := s.exporter(b)
	switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(format), ".")) {
	case FormatCSV:
		return &Download{Name: b.ID + "_results.csv", ContentType: "text/csv; charset=utf-8",
			Write: func(w io.Writer) error { return ex.csv(ctx, w) }}, nil
	case FormatJSON:
		return &Download{Name: b.ID + "_results.json", ContentType: "application/json",
			Write: func(w io.Writer) error { return ex.json(ctx, w) }}, nil
	case FormatZIP:
		return &Download{Name: b.ID + "_results.zip", ContentType: "application/zip",
			Write: func(w io.Writer) error { return ex.zip(ctx, w) }}, nil
	}
	return nil, jobs.FieldError("format", "unknown export format %q (one of csv, json, zip)", format)
}

// exporter writes one batch's exports.
type exporter struct {
	s *Service
	b *jobs.Batch
	t *table // metrics only; rows are streamed
}

func (s *Service) exporter(b *jobs.Batch) *exporter {
	t := &table{model: b.Model}
	if m, ok := s.models.Get(b.Model); ok {
		info := m.Info()
		t.metrics = info.Metrics
		t.primary, t.hasPrimary = info.Primary()
	}
	return &exporter{s: s, b: b, t: t}
}

// each calls fn with every child's row in input order, a store page at a
// time.
func (e *exporter) each(ctx context.Context, fn func(c *jobs.Job, r *api.ResultRow) error) error {
	page := func(page []*jobs.Job) error {
		for _, c := range page {
			e.t.rows, e.t.lower = e.t.rows[:0], e.t.lower[:0]
			e.t.add(c)
			if err := fn(c, &e.t.rows[0]); err != nil {
				return err
			}
		}
		return nil
	}
	return e.s.eachChild(ctx, e.b.UserID, e.b.ID, page)
}

// csvHeader is a metric's column header: "name (unit)", or the name.
func csvHeader(m results.Metric) string {
	if m.Unit == "" {
		return m.Name
	}
	return m.Name + " (" + m.Unit + ")"
}

func (e *exporter) csv(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	header := []string{"index", "job_id", "ligand_name", "smiles", "status"}
	for _, m := range e.t.metrics {
		header = append(header, csvHeader(m))
	}
	header = append(header, "error")
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, 0, len(header))
	err := e.each(ctx, func(_ *jobs.Job, r *api.ResultRow) error {
		rec = append(rec[:0], strconv.Itoa(r.Index), results.CSVText(r.JobID), results.CSVText(r.LigandName),
			results.CSVText(r.SMILES), results.CSVText(r.Status))
		for _, m := range e.t.metrics {
			cell := ""
			if v, ok := r.Metrics[m.Name]; ok && r.Status == string(jobs.StatusCompleted) {
				cell = strconv.FormatFloat(v, 'g', -1, 64)
			}
			rec = append(rec, cell)
		}
		rec = append(rec, results.CSVText(r.Error))
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func (e *exporter) json(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	head := struct {
		BatchID string       `json:"batch_id"`
		Model   string       `json:"model_name"`
		Metrics []api.Metric `json:"metrics"`
	}{e.b.ID, e.b.Model, apiMetrics(e.t.metrics)}
	raw, err := json.Marshal(head)
	if err != nil {
		return err
	}
	bw.Write(raw[:len(raw)-1]) // without the closing brace
	bw.WriteString(`,"rows":[`)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	first := true
	err = e.each(ctx, func(_ *jobs.Job, r *api.ResultRow) error {
		if !first {
			bw.WriteString(",")
		}
		first = false
		return enc.Encode(r) // one row per line
	})
	if err != nil {
		return err
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

func (e *exporter) zip(ctx context.Context, w io.Writer) error {
	zw := zip.NewWriter(w)
	err := e.each(ctx, func(c *jobs.Job, r *api.ResultRow) error {
		folder := results.ZipFolder(r.LigandName, c.ID)
		own := results.JobDir(c.BatchID, c.ID)
		src, looked := "", false // the folder of the job it reused, looked up once it lacks a file
		for _, name := range zipFiles {
			ok, err := e.s.zipObject(ctx, zw, own+"/"+name, folder+"/"+name, modTime(c))
			if err != nil {
				return err
			}
			if ok || c.ReusedFrom == "" {
				continue
			}
			if !looked {
				looked = true
				if dirs := e.s.folders(ctx, c); len(dirs) > 1 {
					src = dirs[1]
				}
			}
			if src != "" {
				if _, err := e.s.zipObject(ctx, zw, src+"/"+name, folder+"/"+name, modTime(c)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: results.FileBatchCSV, Method: zip.Deflate, Modified: modTime(&e.b.Job)})
	if err != nil {
		return err
	}
	if err := e.csv(ctx, fw); err != nil {
		return err
	}
	return zw.Close()
}

// modTime is the time a job's files are dated with in a ZIP.
func modTime(j *jobs.Job) time.Time {
	if !j.FinishedAt.IsZero() {
		return j.FinishedAt.UTC()
	}
	return j.CreatedAt.UTC()
}

// zipObject copies the object key into zw as name; ok is false when there
// is no such object.
func (s *Service) zipObject(ctx context.Context, zw *zip.Writer, key, name string, mod time.Time) (bool, error) {
	r, err := s.results.Get(ctx, key)
	if jobs.IsCode(err, jobs.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(fw, r); err != nil {
		return false, fmt.Errorf("zip %s: %w", key, err)
	}
	return true, nil
}

// FileCIF is the alias of a job's structure for download as
// "{ligand}_{job_id}.cif".
const FileCIF = "cif"

// JobFile returns a file of one of the user's jobs: a batch child when
// batchID is set, an individual job otherwise. name is any file of the
// job's folder (results.json, metadata.json, structure.cif, poses.sdf,
// logs.txt ...) or "cif", the structure under the name
// "{ligand}_{job_id}.cif". A job that reused identical work serves the
// files of the job it reused.
func (s *Service) JobFile(ctx context.Context, userID, batchID, jobID, name string) (*Download, error) {
	var j *jobs.Job
	var err error
	if batchID != "" {
		j, err = s.batchJob(ctx, userID, batchID, jobID)
	} else {
		j, err = s.job(ctx, userID, jobID)
		if err == nil && j.Type != jobs.TypeIndividual {
			err = jobNotFound()
		}
	}
	if err != nil {
		return nil, err
	}
	file, download := name, name
	if name == FileCIF {
		file = results.FileStructure
		lig := ligandOf(j).Name
		if lig == "" {
			lig = "structure"
		}
		download = lig + "_" + j.ID + ".cif"
	}
	if err := results.ValidateID("name", file); err != nil {
		return nil, err
	}
	for _, dir := range s.folders(ctx, j) {
		key := dir + "/" + file
		keys, err := s.results.List(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k != key {
				continue
			}
			if url, ok := s.signedURL(ctx, key); ok {
				return &Download{Name: download, ContentType: results.ContentType(file), URL: url}, nil
			}
			return &Download{Name: download, ContentType: results.ContentType(file), Write: func(w io.Writer) error {
				r, err := s.results.Get(ctx, key)
				if err != nil {
					return err
				}
				defer r.Close()
				_, err = io.Copy(w, r)
				return err
			}}, nil
		}
	}
	return nil, jobs.Errorf(jobs.ErrNotFound, "file %s not found", file)
}

// Large files are handed out as signed URLs of the bucket, when the
// bucket can sign them (Cloud Storage with a signing account): the bytes
// go from the bucket to the client, not through the web tier.
const (
	signedDownloadMin = 8 << 20
	signedDownloadTTL = 15 * time.Minute
)

// signedURL is a signed URL for the object at key when it is large and
// the bucket can sign; ok is false otherwise (the file is streamed). A
// failure to sign is logged and the file streamed.
func (s *Service) signedURL(ctx context.Context, key string) (string, bool) {
	size, err := s.results.Size(ctx, key)
	if err != nil || size < signedDownloadMin {
		return "", false
	}
	url, ok, err := s.results.SignedURL(ctx, key, signedDownloadTTL)
	if err != nil {
		s.log.Warn("sign download URL; streaming instead", "key", key, "err", err)
		return "", false
	}
	return url, ok
}

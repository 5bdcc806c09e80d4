package results

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"strings"

	"omtx/jobs"
)

// maxZipNameLen bounds the ligand-name part of a ZIP folder name.
const maxZipNameLen = 80

// WriteZip streams to w a ZIP of the named files (e.g. structure.cif,
// poses.sdf) of each child, in input order, at paths
// "{ligand_name}_{job_id}/{name}" with the ligand name sanitised (see
// ZipFolder). Files are copied one at a time, never all held in memory; a
// file a child does not have is skipped. batchID is "" for individual jobs.
func (s *Store) WriteZip(ctx context.Context, w io.Writer, batchID string, children []*jobs.Job, names []string) error {
	if batchID != "" {
		if err := validateBatch(batchID, children); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := ValidateID("name", n); err != nil {
			return err
		}
	}
	zw := zip.NewWriter(w)
	for _, c := range inputOrder(children) {
		if err := ValidateID("job_id", c.ID); err != nil {
			return err
		}
		folder := ZipFolder(ligandOf(c).Name, c.ID)
		for _, n := range names {
			if err := s.zipFile(ctx, zw, JobDir(batchID, c.ID)+"/"+n, folder+"/"+n); err != nil {
				return err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	return nil
}

// zipFile copies the object key into zw as name, or does nothing when the
// object does not exist.
func (s *Store) zipFile(ctx context.Context, zw *zip.Writer, key, name string) error {
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		if err = notFound(err, key); jobs.IsCode(err, jobs.ErrNotFound) {
			return nil
		}
		return err
	}
	defer r.Close()
	fw, err := zw.CreateHeader(&zip.FileHeader{
		Name:     name,
		Method:   zip.Deflate,
		Modified: r.ModTime().UTC(),
	})
	if err != nil {
		return fmt.Errorf("write zip %s: %w", name, err)
	}
	if _, err := io.Copy(fw, r); err != nil {
		return fmt.Errorf("write zip %s: %w", name, err)
	}
	return nil
}

// ZipFolder is a child's folder name in a ZIP: "{ligand_name}_{job_id}",
// where the ligand name keeps letters, digits, "-", "_" and "." (others
// become "_") and is cut to 80 bytes; an empty name becomes "ligand".
func ZipFolder(ligandName, jobID string) string {
	var b strings.Builder
	for _, r := range ligandName {
		if b.Len() >= maxZipNameLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if name == "" {
		name = "ligand"
	}
	return name + "_" + jobID
}

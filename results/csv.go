package results

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// CSV format of batch_results.csv (RFC 4180, via encoding/csv):
//
//	index,job_id,ligand_name,smiles,status,<metric>...,error
//
// One row per child in input order, one column per metric named exactly by
// the metric's name. Numbers are written with strconv 'g' and the shortest
// precision that reads back to the same float64 (-9.1, 0.25, 1e-05), never
// altered otherwise; a child that did not complete has empty metric cells.
// Text cells are guarded against spreadsheet formula injection (see
// csvText).

// csvText guards a text cell: one that starts with = + - @ TAB or CR gets
// a leading apostrophe so that a spreadsheet shows it as text instead of
// running it as a formula (the OWASP advice).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVText guards a text cell against spreadsheet formula injection, as
// batch_results.csv does (see csvText), for other CSV writers.
func CSVText(s string) string { return csvText(s) }

// csvNumber formats a metric value.
func csvNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// writeCSV streams the batch's rows to w.
func writeCSV(w io.Writer, metrics []Metric, rows []ChildResult) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	header := []string{"index", "job_id", "ligand_name", "smiles", "status"}
	for _, m := range metrics {
		header = append(header, m.Name)
	}
	header = append(header, "error")
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(header))
	for _, r := range rows {
		rec = rec[:0]
		rec = append(rec,
			strconv.Itoa(r.Index),
			csvText(r.JobID),
			csvText(r.LigandName),
			csvText(r.Smiles),
			csvText(string(r.Status)),
		)
		for _, m := range metrics {
			cell := ""
			if v, ok := value(r, m.Name); ok {
				cell = csvNumber(v)
			}
			rec = append(rec, cell)
		}
		rec = append(rec, csvText(r.Error))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

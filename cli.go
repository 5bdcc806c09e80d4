package main

// The command-line client: submit, status, results, download and demo talk
// to a running hub through package client, as a scientist's scripts would.

import (
	"context"
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"omtx/api"
	"omtx/chem/protein"
	"omtx/client"
	"omtx/results"
)

// demoLibraries holds the demonstration ligand libraries, so that the
// installed binary can submit them from anywhere.
//
//go:embed testdata/demo
var demoLibraries embed.FS

// defaultServer is the hub's address when neither --server nor
// OMTX_SERVER says otherwise: where `omtx serve` listens by default.
const defaultServer = "http://127.0.0.1:8080"

// connFlags are the flags every client command shares.
type connFlags struct {
	server string
	token  string
	// tokenFrom says where the token came from, serverURL which hub was
	// used, for error messages.
	tokenFrom string
	serverURL string
}

func (cf *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.server, "server", "", "hub address (env OMTX_SERVER; default "+defaultServer+")")
	fs.StringVar(&cf.token, "token", "", "API token (env OMTX_TOKEN; default: the local-token file omtx serve writes in its data folder)")
}

// connect builds the client from the flags and the environment.
func (cf *connFlags) connect() (*client.Client, error) {
	server := cf.server
	if server == "" {
		server = os.Getenv("OMTX_SERVER")
	}
	if server == "" {
		server = defaultServer
	}
	token, from, err := discoverToken(cf.token, os.Getenv)
	if err != nil {
		return nil, err
	}
	cf.tokenFrom, cf.serverURL = from, server
	return client.New(server, token, client.WithUserAgent("omtx-cli/"+version))
}

// explain adds to a refused token where it came from, and to a refused
// connection where the hub was looked for.
func (cf *connFlags) explain(err error) error {
	var op *net.OpError
	switch {
	case err == nil:
	case cf.tokenFrom != "" && client.IsStatus(err, http.StatusUnauthorized):
		return fmt.Errorf("%w (the API token came from %s)", err, cf.tokenFrom)
	case cf.serverURL != "" && errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("%w (is the hub running at %s? start it with omtx serve, or give --server or OMTX_SERVER)", err, cf.serverURL)
	}
	return err
}

// discoverToken finds the API token: the flag, then OMTX_TOKEN, then the
// local-token file `omtx serve` writes in local mode under
// $OMTX_DATA_DIR (or ./data). It returns the token and where it came from.
func discoverToken(flagToken string, getenv func(string) string) (token, source string, err error) {
	if t := strings.TrimSpace(flagToken); t != "" {
		return t, "--token", nil
	}
	if t := strings.TrimSpace(getenv("OMTX_TOKEN")); t != "" {
		return t, "OMTX_TOKEN", nil
	}
	dir, from := getenv("OMTX_DATA_DIR"), "$OMTX_DATA_DIR"
	if dir == "" {
		dir, from = "./data", "the default data folder"
	}
	file := filepath.Join(dir, "local-token")
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	raw, err := os.ReadFile(file)
	switch {
	case err == nil && strings.TrimSpace(string(raw)) != "":
		return strings.TrimSpace(string(raw)), file, nil
	case err == nil:
		return "", "", fmt.Errorf("no API token: %s (in %s) is empty; give --token or set OMTX_TOKEN", file, from)
	case errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("no API token: no --token, OMTX_TOKEN is not set, and there is no %s (the file `omtx serve` writes in local mode, looked for in %s); give --token, set OMTX_TOKEN, or set OMTX_DATA_DIR to the server's data folder", file, from)
	default:
		return "", "", fmt.Errorf("no API token: reading %s: %w", file, err)
	}
}

// cmdFlags are a command's flags with its usage text.
type cmdFlags struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

// newFlagSet returns a command's flags: -h prints the usage and the flags
// to stdout; parse errors are returned, not printed.
func newFlagSet(name, synopsis string, stdout io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error
	return &cmdFlags{FlagSet: fs, synopsis: synopsis, stdout: stdout}
}

func (f *cmdFlags) usage() {
	fmt.Fprintf(f.stdout, "Usage: %s\n\nFlags:\n", f.synopsis)
	f.SetOutput(f.stdout)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// errHelp tells a command that -h was asked for and usage was printed.
var errHelp = flag.ErrHelp

// parse parses flags that may come before, between or after the
// positional arguments, which it returns.
func (f *cmdFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.usage()
				return nil, errHelp
			}
			return nil, fmt.Errorf("%s: %w (see omtx %s -h)", f.Name(), err, f.Name())
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// helpOK turns the -h signal into success.
func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// paramFlags collects repeated --param key=value flags.
type paramFlags []string

func (p *paramFlags) String() string { return strings.Join(*p, ",") }

func (p *paramFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	*p = append(*p, v)
	return nil
}

// parseParams turns key=value pairs into the parameters object. A value
// that is valid JSON (a number, true, false, an array, a quoted string)
// is taken as that JSON; any other value is a string. A later key wins.
func parseParams(pairs []string) (json.RawMessage, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := map[string]json.RawMessage{}
	for _, pair := range pairs {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want key=value", pair)
		}
		if json.Valid([]byte(v)) && strings.TrimSpace(v) != "" {
			m[k] = json.RawMessage(strings.TrimSpace(v))
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = raw
	}
	return json.Marshal(m)
}

// parseBox reads --box: six comma-separated numbers, as the JSON object
// of the box parameter.
func parseBox(s string) (string, error) {
	parts := strings.Split(s, ",")
	keys := []string{"center_x", "center_y", "center_z", "size_x", "size_y", "size_z"}
	if len(parts) != len(keys) {
		return "", fmt.Errorf("want six numbers CX,CY,CZ,SX,SY,SZ, got %d", len(parts))
	}
	m := map[string]float64{}
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return "", fmt.Errorf("%s %q is not a number", keys[i], strings.TrimSpace(p))
		}
		m[keys[i]] = x
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// readProteinFASTA reads the one protein record of a FASTA file.
func readProteinFASTA(path string) (rec protein.Record, err error) {
	f, err := os.Open(path)
	if err != nil {
		return rec, err
	}
	defer f.Close()
	recs, err := protein.ReadFASTA(f)
	if err != nil {
		return rec, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) != 1 {
		return rec, fmt.Errorf("%s holds %d records; give a file with the one protein", path, len(recs))
	}
	return recs[0], nil
}

const submitSynopsis = `omtx submit --ligands FILE [--model vina] [--target ABL1 | --receptor FILE --box CX,CY,CZ,SX,SY,SZ] [flags]

Uploads a ligand library (CSV with name and smiles columns, .smi or SDF) as
one batch, one job per ligand, and prints the batch id and where to look.
With --wait it shows progress, then downloads the results CSV and prints
the five best ligands. Library problems are listed row by row.

Examples:
  omtx submit --model vina --target ABL1 --ligands library.csv --wait
  omtx submit --model vina --receptor my_kinase.pdb --box 15.2,53.9,16.9,20,20,20 --ligands library.csv
  omtx submit --model boltz2 --protein-fasta target.fasta --ligands lib.smi --param affinity=true`

// cmdSubmit uploads a ligand library as a batch.
func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("submit", submitSynopsis, stdout)
	var (
		cf                      connFlags
		model, target, ligands  string
		name, seq, fasta, pname string
		receptor, box           string
		out                     string
		params                  paramFlags
		dropInvalid, wait       bool
		every                   time.Duration
	)
	cf.register(fs.FlagSet)
	defer func() { err = cf.explain(err) }()
	fs.StringVar(&model, "model", "vina", "model: vina, boltz2, chai1 or rfantibody")
	fs.StringVar(&target, "target", "", "bundled docking target for vina: ABL1, EGFR or MPRO")
	fs.StringVar(&receptor, "receptor", "", "vina: your receptor structure (PDB or mmCIF) instead of --target; needs --box")
	fs.StringVar(&box, "box", "", "vina: docking box center_x,center_y,center_z,size_x,size_y,size_z in Å (receptor coordinates)")
	fs.StringVar(&ligands, "ligands", "", "ligand library file: CSV, .smi or SDF (required)")
	fs.StringVar(&name, "name", "", "batch name (default: the library's file name)")
	fs.StringVar(&seq, "protein-sequence", "", "protein sequence, one-letter codes (boltz2, chai1)")
	fs.StringVar(&fasta, "protein-fasta", "", "FASTA file holding the protein sequence")
	fs.StringVar(&pname, "protein-name", "", "protein name")
	fs.Var(&params, "param", "model parameter key=value, repeatable; JSON values (numbers, true) are typed")
	fs.BoolVar(&dropInvalid, "drop-invalid", false, "submit the valid ligands and list the invalid ones")
	fs.BoolVar(&wait, "wait", false, "wait for the batch, then download its results CSV")
	fs.StringVar(&out, "out", "", "with --wait: results CSV path (default BATCH_ID.csv)")
	fs.DurationVar(&every, "every", 2*time.Second, "with --wait: how often to poll")
	pos, err := fs.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("submit: unexpected argument %q (the library is given with --ligands)", pos[0])
	}
	if ligands == "" {
		return errors.New("submit: --ligands FILE is required (see omtx submit -h)")
	}
	if seq != "" && fasta != "" {
		return errors.New("submit: give --protein-sequence or --protein-fasta, not both")
	}
	if fasta != "" {
		rec, err := readProteinFASTA(fasta)
		if err != nil {
			return fmt.Errorf("submit: --protein-fasta: %w", err)
		}
		seq = rec.Sequence
		if pname == "" {
			pname = rec.ID
		}
	}
	if box != "" {
		b, err := parseBox(box)
		if err != nil {
			return fmt.Errorf("submit: --box: %w", err)
		}
		params = append(params, "box="+b)
	}
	rawParams, err := parseParams(params)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(ligands), filepath.Ext(ligands))
	}
	var rec *api.ReceptorUpload
	if receptor != "" {
		text, err := os.ReadFile(receptor)
		if err != nil {
			return fmt.Errorf("submit: --receptor: %w", err)
		}
		rec = &api.ReceptorUpload{Name: filepath.Base(receptor), Content: string(text)}
	}
	c, err := cf.connect()
	if err != nil {
		return err
	}
	f, err := os.Open(ligands)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	defer f.Close()
	req := api.SubmitBatchRequest{JobName: name, ModelName: model, Target: target, ProteinSequence: seq,
		ProteinName: pname, Parameters: rawParams, DropInvalid: dropInvalid, Receptor: rec}
	resp, err := c.SubmitLibrary(ctx, req, filepath.Base(ligands), f)
	if err != nil {
		return submitError(ligands, err, stderr)
	}
	printDropped(ligands, resp.Dropped, stderr)
	what := describeTarget(target, pname)
	if rec != nil {
		what = "receptor " + rec.Name
	}
	fmt.Fprintf(stdout, "batch %s submitted: %d jobs (%s, %s)\n", resp.BatchID, resp.TotalJobs, model, what)
	printBatchLinks(c, resp.BatchID, resp.StatusURL, resp.ResultsURL, stdout)
	if !wait {
		fmt.Fprintf(stdout, "follow it with: omtx status %s\n", resp.BatchID)
		return nil
	}
	b, err := waitWithProgress(ctx, c, resp.BatchID, every, stderr)
	if err != nil {
		return err
	}
	return finishBatch(ctx, c, b, out, stdout)
}

func describeTarget(target, proteinName string) string {
	switch {
	case target != "":
		return "target " + target
	case proteinName != "":
		return proteinName
	}
	return "protein from the request"
}

// printBatchLinks prints where a batch can be followed.
func printBatchLinks(c *client.Client, id, statusURL, resultsURL string, w io.Writer) {
	if statusURL == "" {
		statusURL = client.BatchPath(id)
	}
	if resultsURL == "" {
		resultsURL = client.BatchPath(id) + "/results"
	}
	fmt.Fprintf(w, "  status:  %s\n  results: %s\n", c.URL(statusURL), c.URL(resultsURL))
}

// submitError prints a library's problems row by row and returns a short
// error; other errors are returned as they are.
func submitError(library string, err error, stderr io.Writer) error {
	var ce *client.Error
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		return fmt.Errorf("submit %s: %w", library, err)
	}
	fmt.Fprintf(stderr, "%s: %d problem(s):\n", library, len(ce.Problems))
	for _, p := range ce.Problems {
		fmt.Fprintf(stderr, "  %s\n", client.FormatProblem(p))
	}
	msg := ce.Message
	if msg == "" {
		msg = "the library was refused"
	}
	return fmt.Errorf("submit %s: %s (%d problem(s) listed above; --drop-invalid submits the valid rows)", library, msg, len(ce.Problems))
}

// printDropped lists the ligands left out with --drop-invalid.
func printDropped(library string, dropped []api.LigandCheck, stderr io.Writer) {
	if len(dropped) == 0 {
		return
	}
	fmt.Fprintf(stderr, "%s: %d invalid ligand(s) left out:\n", library, len(dropped))
	for _, d := range dropped {
		p := api.Problem{Row: d.Row, Line: d.Line, Name: d.Name, Message: "invalid"}
		if d.Error != nil {
			p.Field, p.Message = d.Error.Field, trimLocation(d.Error.Message)
		}
		fmt.Fprintf(stderr, "  %s\n", client.FormatProblem(p))
	}
}

// locationPrefix is the "row 3 (line 4), field smiles: " a server message
// may start with, which the row-by-row listing already shows.
var locationPrefix = regexp.MustCompile(`^(row \d+( \(line \d+\))?|line \d+)(, field [^:]+)?: `)

func trimLocation(msg string) string { return locationPrefix.ReplaceAllString(msg, "") }

// isTerminal reports whether w is a terminal (a character device), where
// the progress bar redraws one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBarWidth is the number of cells of the progress bar.
const progressBarWidth = 10

// renderProgress draws a batch's progress on one line:
// "[####......] 12/30 40% 3 running 0 failed ETA 2m10s". The ETA is the
// pace since the batch started, at now; it is left out until a job ended.
func renderProgress(b api.Batch, now time.Time) string {
	p := b.Progress
	ended := p.Completed + p.Failed + p.Cancelled
	frac := 0.0
	if p.Total > 0 {
		frac = float64(ended) / float64(p.Total)
	}
	filled := int(frac*progressBarWidth + 1e-9)
	filled = min(max(filled, 0), progressBarWidth)
	var s strings.Builder
	fmt.Fprintf(&s, "[%s%s] %d/%d %d%% %d running %d failed", strings.Repeat("#", filled),
		strings.Repeat(".", progressBarWidth-filled), ended, p.Total, int(frac*100+1e-9), p.Running, p.Failed)
	if p.Cancelled > 0 {
		fmt.Fprintf(&s, " %d cancelled", p.Cancelled)
	}
	switch {
	case b.Paused:
		s.WriteString(" paused")
	case ended >= p.Total && p.Total > 0:
		if !client.BatchDone(&b) {
			s.WriteString(" writing results")
		}
	case ended > 0 && b.StartedAt != nil && now.After(*b.StartedAt):
		spent := now.Sub(*b.StartedAt)
		eta := time.Duration(float64(spent) / float64(ended) * float64(p.Total-ended))
		s.WriteString(" ETA " + formatDuration(eta))
	}
	return s.String()
}

// formatDuration rounds d to seconds: "2m10s", "45s", "1h3m0s".
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// progressPrinter shows progress on a terminal as one redrawn line and
// elsewhere as a line whenever the counts change (or every plainEvery).
type progressPrinter struct {
	w        io.Writer
	terminal bool
	now      func() time.Time
	// lastWidth is the length of the line drawn last on a terminal.
	lastWidth int
	lastKey   string
	lastAt    time.Time
}

// plainEvery is how often a progress line is repeated when nothing changed.
const plainEvery = 30 * time.Second

func (pp *progressPrinter) update(b api.Batch) {
	now := pp.now()
	line := renderProgress(b, now)
	if pp.terminal {
		pad := max(pp.lastWidth-len(line), 0)
		fmt.Fprintf(pp.w, "\r%s%s", line, strings.Repeat(" ", pad))
		pp.lastWidth = len(line)
		return
	}
	key := fmt.Sprintf("%s %v %v", b.Status, b.Progress, b.Paused)
	if key == pp.lastKey && now.Sub(pp.lastAt) < plainEvery {
		return
	}
	pp.lastKey, pp.lastAt = key, now
	fmt.Fprintln(pp.w, line)
}

// done ends the redrawn line.
func (pp *progressPrinter) done() {
	if pp.terminal && pp.lastWidth > 0 {
		fmt.Fprintln(pp.w)
	}
}

// waitWithProgress waits for a batch to end with its results written,
// showing progress on stderr.
func waitWithProgress(ctx context.Context, c *client.Client, id string, every time.Duration, stderr io.Writer) (*api.Batch, error) {
	pp := &progressPrinter{w: stderr, terminal: isTerminal(stderr), now: time.Now}
	b, err := c.WaitBatch(ctx, id, every, pp.update)
	pp.done()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("stopped waiting for batch %s, which goes on (omtx status %s): %w", id, id, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("waiting for batch %s: %w", id, err)
	}
	return b, nil
}

// finishBatch downloads an ended batch's results CSV and prints its best
// ligands.
func finishBatch(ctx context.Context, c *client.Client, b *api.Batch, out string, stdout io.Writer) error {
	p := b.Progress
	fmt.Fprintf(stdout, "batch %s %s: %d completed, %d failed, %d cancelled of %d\n", b.BatchID, b.Status,
		p.Completed, p.Failed, p.Cancelled, p.Total)
	if b.FinalizeState == "failed" {
		return fmt.Errorf("batch %s: writing its results failed: %s", b.BatchID, b.Error)
	}
	if out == "" {
		out = b.BatchID + ".csv"
	}
	out, n, err := downloadNamed(ctx, c, client.ExportPath(b.BatchID, "csv"), out, out)
	if err != nil {
		return fmt.Errorf("download results of batch %s: %w", b.BatchID, err)
	}
	fmt.Fprintf(stdout, "results CSV: %s (%s)\n", out, formatSize(n))
	if err := printTop(ctx, c, b, stdout); err != nil {
		return err
	}
	if b.Status != "completed" {
		return fmt.Errorf("batch %s ended %s", b.BatchID, b.Status)
	}
	return nil
}

// formatSize prints a byte count for people.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// metricHeader names a metric with its unit and direction:
// "affinity (kcal/mol, lower is better)".
func metricHeader(m api.Metric) string {
	name := m.Name
	if name == "" {
		name = "affinity"
	}
	var parts []string
	if m.Unit != "" {
		parts = append(parts, m.Unit)
	}
	if m.Better != "" {
		parts = append(parts, m.Better+" is better")
	}
	if len(parts) == 0 {
		return name
	}
	return name + " (" + strings.Join(parts, ", ") + ")"
}

// otherMetrics are a page's metrics other than the primary score, sorted.
func otherMetrics(page *api.ResultsPage) []api.Metric {
	var ms []api.Metric
	for _, m := range page.Metrics {
		if m.Primary || m.Name == page.Affinity.Name {
			continue
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms
}

func formatScore(v *float64) string {
	if v == nil {
		return "-"
	}
	return formatNumber(*v)
}

// formatNumber shows a score for reading: at most four decimals.
func formatNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e4)/1e4, 'f', -1, 64)
}

// writeResultsTable prints result rows as an aligned table whose affinity
// column names its unit and direction; with metrics, the other metrics too.
func writeResultsTable(w io.Writer, page *api.ResultsPage, rows []api.ResultRow, metrics bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"#", "LIGAND", metricHeader(page.Affinity)}
	var ms []api.Metric
	if metrics {
		ms = otherMetrics(page)
		for _, m := range ms {
			h := m.Name
			if m.Unit != "" {
				h += " (" + m.Unit + ")"
			}
			head = append(head, h)
		}
	}
	head = append(head, "STATUS", "SMILES")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		cells := []string{strconv.Itoa(r.Index + 1), r.LigandName, formatScore(r.Affinity)}
		for _, m := range ms {
			if v, ok := r.Metrics[m.Name]; ok {
				cells = append(cells, formatNumber(v))
			} else {
				cells = append(cells, "-")
			}
		}
		status := r.Status
		if r.Error != "" {
			status += ": " + oneLine(r.Error, 60)
		}
		cells = append(cells, status, r.SMILES)
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

const statusSynopsis = `omtx status [BATCH_ID] [--json]

Without a batch id: a table of your batches, newest first. With one: the
batch's progress and milestones.`

// cmdStatus shows the user's batches or one batch.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("status", statusSynopsis, stdout)
	var (
		cf       connFlags
		asJSON   bool
		pageSize int
		status   string
	)
	cf.register(fs.FlagSet)
	defer func() { err = cf.explain(err) }()
	fs.BoolVar(&asJSON, "json", false, "print the server's JSON")
	fs.IntVar(&pageSize, "n", 20, "without BATCH_ID: how many batches to list")
	fs.StringVar(&status, "status", "", "without BATCH_ID: only batches in this status")
	pos, err := fs.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) > 1 {
		return fmt.Errorf("status: want at most one BATCH_ID, got %d arguments", len(pos))
	}
	c, err := cf.connect()
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		id := pos[0]
		if asJSON {
			return rawJSON(ctx, c, client.BatchPath(id), stdout)
		}
		b, err := c.Batch(ctx, id)
		if err != nil {
			return fmt.Errorf("status %s: %w", id, err)
		}
		printBatch(c, b, time.Now(), stdout)
		return nil
	}
	if asJSON {
		q := url.Values{"page_size": {strconv.Itoa(pageSize)}}
		if status != "" {
			q.Set("status", status)
		}
		return rawJSON(ctx, c, api.Prefix+"/batches?"+q.Encode(), stdout)
	}
	list, err := c.Batches(ctx, api.ListQuery{PageSize: pageSize, Status: status})
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if len(list.Batches) == 0 {
		fmt.Fprintln(stdout, "no batches yet: submit one with omtx submit, or try omtx demo")
		return nil
	}
	writeBatchTable(stdout, list.Batches)
	if list.HasMore {
		fmt.Fprintf(stdout, "(more batches: omtx status -n %d)\n", pageSize*2)
	}
	return nil
}

// rawJSON copies the server's JSON answer at path to w.
func rawJSON(ctx context.Context, c *client.Client, path string, w io.Writer) error {
	_, _, err := c.Download(ctx, path, w)
	if err == nil {
		fmt.Fprintln(w)
	}
	return err
}

// progressCell is "12/30 40%" with paused or failed counts.
func progressCell(b api.Batch) string {
	p := b.Progress
	ended := p.Completed + p.Failed + p.Cancelled
	s := fmt.Sprintf("%d/%d %.0f%%", ended, p.Total, p.Percent)
	if p.Failed > 0 {
		s += fmt.Sprintf(" (%d failed)", p.Failed)
	}
	return s
}

func statusCell(b api.Batch) string {
	if b.Paused && (b.Status == "pending" || b.Status == "running") {
		return b.Status + " (paused)"
	}
	return b.Status
}

func writeBatchTable(w io.Writer, batches []api.Batch) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH ID\tNAME\tMODEL\tSTATUS\tPROGRESS\tCREATED")
	for _, b := range batches {
		model := b.ModelName
		if b.Target != "" {
			model += "/" + b.Target
		} else if b.Receptor != nil {
			model += "/" + oneLine(b.Receptor.Name, 24)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.BatchID, oneLine(b.JobName, 40), model, statusCell(b),
			progressCell(b), b.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
}

// printBatch prints one batch in detail.
func printBatch(c *client.Client, b *api.Batch, now time.Time, w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	model := b.ModelName
	if b.ModelVersion != "" {
		model += " " + b.ModelVersion
	}
	p := b.Progress
	row("batch", b.BatchID)
	row("name", b.JobName)
	row("model", model)
	row("target", b.Target)
	if r := b.Receptor; r != nil {
		row("receptor", fmt.Sprintf("%s (%d residues, chains %s)", r.Name, r.Residues, strings.Join(r.Chains, ", ")))
	}
	row("protein", b.ProteinName)
	row("status", statusCell(*b))
	row("progress", renderProgress(*b, now))
	row("jobs", fmt.Sprintf("%d total: %d pending, %d running, %d completed, %d failed, %d cancelled",
		p.Total, p.Pending, p.Running, p.Completed, p.Failed, p.Cancelled))
	row("results", b.FinalizeState)
	row("error", b.Error)
	row("created", b.CreatedAt.Local().Format(time.DateTime))
	if b.StartedAt != nil {
		row("started", b.StartedAt.Local().Format(time.DateTime))
	}
	if b.FinishedAt != nil {
		row("finished", b.FinishedAt.Local().Format(time.DateTime)+" (took "+formatDuration(b.FinishedAt.Sub(derefTime(b.StartedAt, b.CreatedAt)))+")")
	}
	for _, m := range b.Milestones {
		row(fmt.Sprintf("%d%% at", m.Percent), m.At.Local().Format(time.DateTime)+" (+"+formatDuration(m.At.Sub(derefTime(b.StartedAt, b.CreatedAt)))+")")
	}
	tw.Flush()
	printBatchLinks(c, b.BatchID, b.StatusURL, b.ResultsURL, w)
}

func derefTime(t *time.Time, def time.Time) time.Time {
	if t == nil {
		return def
	}
	return *t
}

const resultsSynopsis = `omtx results BATCH_ID [--sort affinity] [--order asc|desc] [--top N] [--q TEXT] [--format table|csv|json]

Prints a batch's results, best first by the model's primary score (the
affinity column, whose header gives its unit and which way is better).`

// cmdResults prints a batch's results table.
func cmdResults(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("results", resultsSynopsis, stdout)
	var (
		cf                           connFlags
		sortBy, order, q, format, st string
		top                          int
	)
	cf.register(fs.FlagSet)
	defer func() { err = cf.explain(err) }()
	fs.StringVar(&sortBy, "sort", "", "sort by affinity (the primary score), a metric name, ligand_name, index or status")
	fs.StringVar(&order, "order", "", "asc or desc (default: best first for scores)")
	fs.IntVar(&top, "top", 0, "show only the first N rows (0: all)")
	fs.StringVar(&q, "q", "", "only ligands whose name or SMILES contains TEXT")
	fs.StringVar(&st, "status", "", "only jobs in this status (completed, failed, ...)")
	fs.StringVar(&format, "format", "table", "table, csv or json")
	pos, err := fs.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) != 1 {
		return errors.New("results: want one BATCH_ID (see omtx results -h)")
	}
	if order != "" && order != "asc" && order != "desc" {
		return fmt.Errorf("results: --order %q: want asc or desc", order)
	}
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("results: --format %q: want table, csv or json", format)
	}
	if top < 0 {
		return errors.New("results: --top must not be negative")
	}
	c, err := cf.connect()
	if err != nil {
		return err
	}
	page, rows, err := fetchResults(ctx, c, pos[0], api.ResultsQuery{Sort: sortBy, Order: order, Q: q, Status: st}, top)
	if err != nil {
		return fmt.Errorf("results %s: %w", pos[0], err)
	}
	switch format {
	case "json":
		page.Rows = rows
		page.Page, page.PageSize, page.TotalPages, page.NextCursor = 1, len(rows), 1, ""
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(page)
	case "csv":
		return writeResultsCSV(stdout, page, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(stdout, "no results match (batch %s is %s)\n", pos[0], page.Status)
		return nil
	}
	if err := writeResultsTable(stdout, page, rows, true); err != nil {
		return err
	}
	if len(rows) < page.Total {
		fmt.Fprintf(stdout, "(%d of %d rows)\n", len(rows), page.Total)
	}
	return nil
}

// resultsPageSize is the page size the results command reads with.
const resultsPageSize = 500

// fetchResults reads up to top rows (0: all) page by page.
func fetchResults(ctx context.Context, c *client.Client, id string, q api.ResultsQuery, top int) (*api.ResultsPage, []api.ResultRow, error) {
	q.PageSize = resultsPageSize
	if top > 0 && top < resultsPageSize {
		q.PageSize = top
	}
	q.Page = 1
	var first *api.ResultsPage
	var rows []api.ResultRow
	for {
		page, err := c.Results(ctx, id, q)
		if err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = page
		}
		rows = append(rows, page.Rows...)
		if top > 0 && len(rows) >= top {
			return first, rows[:top], nil
		}
		switch {
		case len(page.Rows) == 0:
			return first, rows, nil
		case page.NextCursor != "":
			q.Cursor = page.NextCursor
		case page.Page < page.TotalPages:
			q.Cursor = ""
			q.Page = page.Page + 1
		default:
			return first, rows, nil
		}
	}
}

// writeResultsCSV writes rows as CSV: index, job, ligand, SMILES, status,
// the primary score and the other metrics by name.
func writeResultsCSV(w io.Writer, page *api.ResultsPage, rows []api.ResultRow) error {
	cw := csv.NewWriter(w)
	ms := otherMetrics(page)
	head := []string{"index", "job_id", "ligand_name", "smiles", "status", "affinity"}
	if page.Affinity.Unit != "" {
		head[5] = "affinity_" + strings.NewReplacer("/", "_per_", " ", "_").Replace(page.Affinity.Unit)
	}
	for _, m := range ms {
		head = append(head, m.Name)
	}
	head = append(head, "error")
	cw.Write(head)
	for _, r := range rows {
		aff := ""
		if r.Affinity != nil {
			aff = strconv.FormatFloat(*r.Affinity, 'f', -1, 64)
		}
		// Text cells are guarded against formula injection, as the
		// server's batch_results.csv is (results.CSVText).
		rec := []string{strconv.Itoa(r.Index), results.CSVText(r.JobID), results.CSVText(r.LigandName),
			results.CSVText(r.SMILES), results.CSVText(r.Status), aff}
		for _, m := range ms {
			v := ""
			if x, ok := r.Metrics[m.Name]; ok {
				v = strconv.FormatFloat(x, 'f', -1, 64)
			}
			rec = append(rec, v)
		}
		cw.Write(append(rec, results.CSVText(r.Error)))
	}
	cw.Flush()
	return cw.Error()
}

const downloadSynopsis = `omtx download BATCH_ID [--what csv|json|zip] [--out PATH]
       omtx download BATCH_ID --job JOB_ID --file structure.cif|poses.sdf|results.json|logs.txt|cif [--out PATH]
       omtx download --job JOB_ID --file results.json   (an individual job)

Downloads a batch export or a job's file. The file is named as the server
names it unless --out gives a path (or a folder; "-" writes to stdout).`

// cmdDownload saves a batch export or a job's file.
func cmdDownload(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("download", downloadSynopsis, stdout)
	var (
		cf                   connFlags
		what, job, file, out string
	)
	cf.register(fs.FlagSet)
	defer func() { err = cf.explain(err) }()
	fs.StringVar(&what, "what", "csv", "batch export: csv, json or zip")
	fs.StringVar(&job, "job", "", "a job of the batch (or an individual job) whose file to download")
	fs.StringVar(&file, "file", "structure.cif", "with --job: the file (cif is the complex structure)")
	fs.StringVar(&out, "out", "", "where to write: a file, a folder, or - for stdout (default: the server's file name)")
	pos, err := fs.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) > 1 || (len(pos) == 0 && job == "") {
		return errors.New("download: want one BATCH_ID, or --job JOB_ID (see omtx download -h)")
	}
	batch := ""
	if len(pos) == 1 {
		batch = pos[0]
	}
	var src, fallback string
	if job != "" {
		if file == "" || strings.ContainsAny(file, `/\`) {
			return fmt.Errorf("download: --file %q: want a file name of the job folder", file)
		}
		src = client.JobFilePath(batch, job, file)
		fallback = job + "_" + file
		if file == "cif" {
			fallback = job + ".cif"
		}
	} else {
		switch what {
		case "csv", "json", "zip":
		default:
			return fmt.Errorf("download: --what %q: want csv, json or zip", what)
		}
		src = client.ExportPath(batch, what)
		fallback = batch + "." + what
	}
	c, err := cf.connect()
	if err != nil {
		return err
	}
	if out == "-" {
		_, _, err := c.Download(ctx, src, stdout)
		return err
	}
	path, n, err := downloadNamed(ctx, c, src, out, fallback)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	fmt.Fprintf(stdout, "%s (%s)\n", path, formatSize(n))
	return nil
}

// downloadNamed streams src into a temporary file in the target folder and
// renames it to out, or (out empty or a folder) to the name the server
// gave, sanitized, or else fallback.
func downloadNamed(ctx context.Context, c *client.Client, src, out, fallback string) (string, int64, error) {
	dir, name := ".", ""
	switch st, err := os.Stat(out); {
	case out == "":
	case err == nil && st.IsDir():
		dir = out
	default:
		dir, name = filepath.Dir(out), filepath.Base(out)
	}
	tmp, err := os.CreateTemp(dir, ".omtx-download-*")
	if err != nil {
		return "", 0, err
	}
	served, n, err := c.Download(ctx, src, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if name == "" {
		name = served
		if name == "" {
			name = client.SanitizeFilename(fallback)
		}
	}
	path := filepath.Join(dir, name)
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", n, err
	}
	return path, n, nil
}

// demoBatch is one demonstration batch.
type demoBatch struct {
	Name    string
	Target  string
	Library string // file in testdata/demo
	About   string
}

// demoBatches are the demonstrations: known inhibitors docked into the
// bundled targets they were approved against, with aspirin as a control.
var demoBatches = []demoBatch{
	{Name: "demo: FDA kinase inhibitors vs ABL1", Target: "ABL1", Library: "kinase_inhibitors.csv",
		About: "imatinib, nilotinib and dasatinib are ABL1 inhibitors; gefitinib and erlotinib target EGFR; aspirin is a control"},
	{Name: "demo: EGFR inhibitors vs EGFR", Target: "EGFR", Library: "egfr_inhibitors.csv",
		About: "gefitinib and erlotinib (the crystal ligand of 1M17) are EGFR inhibitors; aspirin is a control"},
}

const demoSynopsis = `omtx demo [--wait]

Submits the demonstration batches (AutoDock Vina docking, bundled targets):
` + "  - FDA kinase inhibitors against ABL1 (1IEP)\n  - the EGFR inhibitors among them against EGFR (1M17)\n" + `
and prints where to follow them. With --wait it waits for all of them and
prints the best ligands of each.`

// cmdDemo submits the demonstration batches.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("demo", demoSynopsis, stdout)
	var (
		cf    connFlags
		wait  bool
		every time.Duration
		exh   int
	)
	cf.register(fs.FlagSet)
	defer func() { err = cf.explain(err) }()
	fs.BoolVar(&wait, "wait", false, "wait for the batches and print their best ligands")
	fs.IntVar(&exh, "exhaustiveness", 2, "Vina's search exhaustiveness (its default, 8, takes four times as long)")
	fs.DurationVar(&every, "every", 2*time.Second, "with --wait: how often to poll")
	pos, err := fs.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("demo: unexpected argument %q", pos[0])
	}
	c, err := cf.connect()
	if err != nil {
		return err
	}
	var ids []string
	for _, d := range demoBatches {
		lib, err := demoLibraries.Open("testdata/demo/" + d.Library)
		if err != nil {
			return err
		}
		req := api.SubmitBatchRequest{JobName: d.Name, ModelName: "vina", Target: d.Target,
			Parameters: json.RawMessage(fmt.Sprintf(`{"exhaustiveness":%d}`, exh))}
		resp, err := c.SubmitLibrary(ctx, req, d.Library, lib)
		lib.Close()
		if err != nil {
			return submitError(d.Library, err, stderr)
		}
		ids = append(ids, resp.BatchID)
		fmt.Fprintf(stdout, "%s: batch %s, %d ligands, exhaustiveness %d (%s)\n", d.Name, resp.BatchID, resp.TotalJobs, exh, d.About)
		printBatchLinks(c, resp.BatchID, resp.StatusURL, resp.ResultsURL, stdout)
	}
	if !wait {
		fmt.Fprintf(stdout, "follow them with: omtx status; results with: omtx results BATCH_ID\n")
		return nil
	}
	var failed []string
	for i, id := range ids {
		fmt.Fprintf(stderr, "waiting for %s (%s)\n", id, demoBatches[i].Name)
		b, err := waitWithProgress(ctx, c, id, every, stderr)
		if err != nil {
			return err
		}
		p := b.Progress
		fmt.Fprintf(stdout, "batch %s (%s) %s: %d completed, %d failed of %d\n", b.BatchID, b.JobName, b.Status, p.Completed, p.Failed, p.Total)
		if err := printTop(ctx, c, b, stdout); err != nil {
			return err
		}
		if b.Status != "completed" {
			failed = append(failed, id+" "+b.Status)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("demo batches did not complete: %s", strings.Join(failed, ", "))
	}
	return nil
}

// topShown is how many of the best ligands an ended batch shows.
const topShown = 5

// printTop prints an ended batch's best ligands by its primary score.
func printTop(ctx context.Context, c *client.Client, b *api.Batch, w io.Writer) error {
	if b.Progress.Completed == 0 {
		return nil
	}
	page, err := c.Results(ctx, b.BatchID, api.ResultsQuery{PageSize: topShown, Status: "completed"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "top %d by %s:\n", len(page.Rows), metricHeader(page.Affinity))
	return writeResultsTable(w, page, page.Rows, false)
}

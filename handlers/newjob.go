package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"omtx/api"
	"omtx/chem"
	"omtx/gpu/vina"
	"omtx/hub"
	"omtx/jobs"
	"omtx/views"
)

// start is the start page: the New prediction form for a signed-in user
// (htmx asking for a model's fields gets that fieldset alone), the landing
// page for anyone else.
func (s *server) start(c echo.Context) error {
	p := userOf(c)
	if p == nil {
		return s.home(c)
	}
	return s.pageErrors(func(c echo.Context) error { return s.newJobPage(c, p) })(c)
}

// newJobPage shows the form with the model of ?model= (or the first one
// that can run here).
func (s *server) newJobPage(c echo.Context, _ *principal) error {
	v := s.newJobView(c, c.QueryParam(views.FieldModel))
	if c.Request().Header.Get(headerHXHistoryRestore) == "true" {
		// htmx restoring a pushed ?model= URL wants the whole page.
		return s.renderNewJob(c, http.StatusOK, v, nil)
	}
	return s.renderNewJob(c, http.StatusOK, v, views.ModelFields(v))
}

// headerHXHistoryRestore is sent by htmx when it reloads a pushed URL
// missing from its history cache.
const headerHXHistoryRestore = "HX-History-Restore-Request"

// renderNewJob renders the page, or the fragment for htmx.
func (s *server) renderNewJob(c echo.Context, status int, v views.NewJobView, fragment templ.Component) error {
	return render(c, status, views.NewJobPage(s.shell(c, "New prediction", views.SectionHome), v), fragment)
}

// newJobView is the form for the models this deployment lists, with the
// asked model chosen when there is one of that name.
func (s *server) newJobView(c echo.Context, model string) views.NewJobView {
	targets := s.Targets
	if targets == nil {
		targets = BundledTargets(nil)
	}
	v := views.NewJobView{Models: s.Service.Models(c.Request().Context()).Models, Targets: targets,
		Values: map[string]string{}, Errors: map[string]string{}, SubmissionKey: newFormKey()}
	v.Model = chooseModel(v.Models, model)
	return v
}

// newFormKey is the idempotency key of a new submission from the form.
func newFormKey() string { return "form-" + uuid.NewString() }

// chooseModel is the named model if listed; otherwise the first model
// that runs here and screens ligands, the first that runs here, or the
// first listed.
func chooseModel(models []api.Model, name string) string {
	name = strings.TrimSpace(name)
	for _, m := range models {
		if strings.EqualFold(m.Name, name) {
			return m.Name
		}
	}
	for _, want := range []func(api.Model) bool{
		func(m api.Model) bool { return m.Available && m.Ligands },
		func(m api.Model) bool { return m.Available },
		func(api.Model) bool { return true },
	} {
		for _, m := range models {
			if want(m) {
				return m.Name
			}
		}
	}
	return ""
}

// BundledTargets describes the docking targets a target field offers,
// each with its picture when dock (the Vina adapter, which reads the
// targets' files) is given and can draw it.
func BundledTargets(dock *vina.Model) []views.Target {
	var out []views.Target
	for _, t := range vina.Targets() {
		vt := views.Target{ID: t.ID, Name: t.Name, PDBID: t.PDBID, Description: t.Description,
			Center: [3]float64{t.Box.CenterX, t.Box.CenterY, t.Box.CenterZ},
			Size:   [3]float64{t.Box.SizeX, t.Box.SizeY, t.Box.SizeZ}}
		if dock != nil {
			if tr, err := dock.TargetTrace(t.ID); err == nil {
				vt.Picture = views.NewTargetPicture(tr.Segments, vt.Center, vt.Size)
			}
		}
		out = append(out, vt)
	}
	return out
}

// newJobForm is a posted New prediction form.
type newJobForm struct {
	view views.NewJobView
	// up is the multipart body, nil for a URL-encoded one; Close removes
	// its temporary files.
	up *upload
	// file is the uploaded library's part, nil when none was chosen.
	file *multipart.FileHeader
	// receptor is the uploaded receptor's part, nil when none was chosen.
	receptor *multipart.FileHeader
	// pasted are the pasted ligands; lines their line in the text.
	pasted []api.Ligand
	lines  []int
}

// readNewJobForm reads the posted form (multipart or URL-encoded) into the
// page's view: everything the user typed is kept.
func (s *server) readNewJobForm(c echo.Context) (*newJobForm, error) {
	r := c.Request()
	if !isForm(r) {
		return nil, &jobs.Error{Code: codeUnsupportedMedia, Message: "send the form as multipart/form-data or application/x-www-form-urlencoded"}
	}
	f := &newJobForm{}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); mt == echo.MIMEMultipartForm {
		up, err := parseUpload(c)
		if err != nil {
			return nil, err
		}
		f.up = up
		if fhs := up.form.File[views.FieldFile]; len(fhs) > 0 && fhs[0].Filename != "" && fhs[0].Size > 0 {
			f.file = fhs[0]
		}
		if fhs := up.form.File[views.FieldReceptor]; len(fhs) > 0 && fhs[0].Filename != "" && fhs[0].Size > 0 {
			f.receptor = fhs[0]
		}
	} else if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, mbe // 413, as the API answers it
		}
		return nil, jobs.Errorf(jobs.ErrInvalid, "malformed form: %s", err)
	}
	v := s.newJobView(c, r.FormValue(views.FieldModel))
	if asked := strings.TrimSpace(r.FormValue(views.FieldModel)); asked == "" || !strings.EqualFold(asked, v.Model) {
		v.Errors[views.FieldModel] = "Choose one of the models."
	}
	if key := r.FormValue(views.FieldSubmission); jobs.CheckIdempotencyKey(key) == nil {
		v.SubmissionKey = key
	}
	v.JobName = r.FormValue(views.FieldJobName)
	v.Ligands = r.FormValue(views.FieldLigands)
	v.DropInvalid, _ = strconv.ParseBool(r.FormValue(views.FieldDrop))
	if m, ok := v.Chosen(); ok {
		for _, fd := range m.Fields {
			if fd.Type == "box" {
				for _, k := range views.BoxKeys {
					if vals := r.Form[views.BoxFormName(fd, k)]; len(vals) > 0 {
						v.Values[views.BoxValueKey(fd.Name, k)] = vals[0]
					}
				}
				continue
			}
			if vals, ok := r.Form[views.ParamFormName(fd)]; ok && len(vals) > 0 {
				v.Values[fd.Name] = vals[0]
			}
		}
		if f.receptor != nil {
			v.Values[views.FieldReceptor] = f.receptor.Filename
		}
	}
	f.view = v
	f.pasted, f.lines = parsePasted(v.Ligands)
	return f, nil
}

// Close removes the upload's temporary files.
func (f *newJobForm) Close() { f.up.Close() }

// parsePasted reads pasted ligands: "name,SMILES" or "SMILES,name" lines,
// "SMILES name" lines as in a .smi file, or a SMILES alone. Blank lines
// and lines starting with # are skipped, and so is a header line (a SMILES
// that is the word SMILES, or "name,smiles" in either order). The order of
// comma-separated lines is the header's, or else the one under which more
// lines read as a SMILES where the SMILES is expected: a SMILES has no
// comma, a name may. lines are each ligand's 1-based line.
func parsePasted(text string) (ligs []api.Ligand, lines []int) {
	all := strings.Split(text, "\n")
	smilesFirst, header := pastedOrder(all)
	for i, raw := range all {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") || i == header {
			continue
		}
		var name, smiles string
		if j := strings.IndexByte(line, ','); j >= 0 && smilesFirst {
			smiles, name = strings.TrimSpace(line[:j]), strings.TrimSpace(line[j+1:])
		} else if j := strings.LastIndexByte(line, ','); j >= 0 {
			name, smiles = strings.TrimSpace(line[:j]), strings.TrimSpace(line[j+1:])
		} else if j := strings.IndexAny(line, " \t"); j >= 0 {
			smiles, name = line[:j], strings.TrimSpace(line[j+1:])
		} else {
			smiles = line
		}
		if len(ligs) == 0 && strings.EqualFold(smiles, "smiles") {
			continue
		}
		ligs = append(ligs, api.Ligand{Name: name, SMILES: smiles})
		lines = append(lines, i+1)
	}
	return ligs, lines
}

// pastedVotes is how many comma-separated lines pastedOrder reads to
// decide their order.
const pastedVotes = 200

// pastedOrder decides whether comma-separated pasted lines hold the SMILES
// first, and finds a header line ("smiles,name" or "name,smiles"; -1 when
// there is none). Without a header the lines vote: a line whose first
// field parses as a SMILES and whose last does not counts for SMILES
// first, the opposite for name first; a tie keeps name first.
func pastedOrder(lines []string) (smilesFirst bool, header int) {
	votes, seen := 0, 0
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") || !strings.Contains(line, ",") {
			continue
		}
		first, rest, _ := strings.Cut(line, ",")
		last := line[strings.LastIndexByte(line, ',')+1:]
		first, rest, last = strings.ToLower(strings.TrimSpace(first)), strings.ToLower(strings.TrimSpace(rest)), strings.TrimSpace(last)
		if seen == 0 && (first == "smiles" || strings.EqualFold(last, "smiles")) && (first == "name" || rest == "name" || strings.EqualFold(last, "name")) {
			return first == "smiles", i
		}
		if seen++; seen > pastedVotes {
			break
		}
		firstOK, lastOK := isSMILES(strings.TrimSpace(line[:strings.IndexByte(line, ',')])), isSMILES(last)
		switch {
		case firstOK && !lastOK:
			votes++
		case lastOK && !firstOK:
			votes--
		}
	}
	return votes > 0, -1
}

// isSMILES reports whether s parses as a SMILES.
func isSMILES(s string) bool {
	if s == "" {
		return false
	}
	_, err := chem.ParseSMILES(s)
	return err == nil
}

// submitRequest builds the submission from the form: the model's fields
// parsed by their types. A value that does not parse is an error next to
// its field.
func submitRequest(v *views.NewJobView) api.SubmitBatchRequest {
	req := api.SubmitBatchRequest{ModelName: v.Model, JobName: v.JobName, DropInvalid: v.DropInvalid}
	m, ok := v.Chosen()
	if !ok {
		return req
	}
	params := map[string]any{}
	for _, f := range m.Fields {
		switch f.Type {
		case "structure":
			continue // the file, read by the caller
		case "box":
			if box, err := boxValue(f, v.Values); err != nil {
				v.Errors[f.Name] = err.Error()
			} else if box != nil {
				params[f.Name] = box
			}
			continue
		}
		raw := strings.TrimSpace(v.Values[f.Name])
		if raw == "" {
			continue // the model's default, or its "is required"
		}
		val, err := fieldValue(f, raw)
		if err != nil {
			v.Errors[f.Name] = err.Error()
			continue
		}
		if f.Top {
			switch f.Name {
			case "target":
				req.Target = raw
			case "protein_sequence":
				req.ProteinSequence = v.Values[f.Name]
			case "protein_name":
				req.ProteinName = raw
			}
			continue
		}
		params[f.Name] = val
	}
	if len(params) > 0 {
		req.Parameters, _ = json.Marshal(params) // numbers, strings and booleans always encode
	}
	return req
}

// boxValue reads a box field's six numbers: nil when all are empty,
// an error naming the first that is missing or not a number otherwise.
func boxValue(f api.Field, values map[string]string) (map[string]float64, error) {
	box := map[string]float64{}
	empty := 0
	for _, k := range views.BoxKeys {
		if strings.TrimSpace(values[views.BoxValueKey(f.Name, k)]) == "" {
			empty++
		}
	}
	if empty == len(views.BoxKeys) {
		return nil, nil
	}
	for _, k := range views.BoxKeys {
		raw := strings.TrimSpace(values[views.BoxValueKey(f.Name, k)])
		if raw == "" {
			return nil, fmt.Errorf("%s is missing: give all six numbers, or none", k)
		}
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s must be a number, not %q", k, raw)
		}
		box[k] = x
	}
	return box, nil
}

// receptorUpload reads the form's uploaded receptor, nil when none.
func (f *newJobForm) receptorUpload() (*api.ReceptorUpload, error) {
	if f.receptor == nil {
		return nil, nil
	}
	if f.receptor.Size > hub.MaxReceptorBytes {
		return nil, jobs.FieldError(views.FieldReceptor, "%s is %.1f MB; the limit is %d MB", f.receptor.Filename,
			float64(f.receptor.Size)/(1<<20), hub.MaxReceptorBytes>>20)
	}
	file, err := f.receptor.Open()
	if err != nil {
		return nil, fmt.Errorf("open uploaded receptor: %w", err)
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, hub.MaxReceptorBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read uploaded receptor: %w", err)
	}
	return &api.ReceptorUpload{Name: f.receptor.Filename, Content: string(b)}, nil
}

// fieldValue parses a field's typed text by the field's type.
func fieldValue(f api.Field, raw string) (any, error) {
	switch f.Type {
	case "integer":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			if x, ferr := strconv.ParseFloat(raw, 64); ferr == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
			return nil, fmt.Errorf("must be a whole number, not %q", raw)
		}
		return n, nil
	case "number":
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("must be a number, not %q", raw)
		}
		return x, nil
	case "boolean":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("must be on or off, not %q", raw)
		}
		return b, nil
	}
	return raw, nil
}

// formKey is the form field an error of the service names: model_name is
// the model picker, parameters.NAME the model's field NAME; "" when the
// form has no such field.
func formKey(v views.NewJobView, field string) string {
	switch field {
	case "model_name":
		return views.FieldModel
	case views.FieldJobName, views.FieldLigands, views.FieldFile:
		return field
	}
	name := strings.TrimPrefix(field, "parameters.")
	if m, ok := v.Chosen(); ok {
		for _, f := range m.Fields {
			if f.Name == name {
				return name
			}
		}
	}
	return ""
}

// submitNewJob submits the form: the pasted ligands with SubmitBatch, an
// uploaded library with SubmitLibrary, with the caller's tier limits as
// the API's submit route has them; then 303 to the batch's results. A
// refused submission shows the form again with every problem, keeping
// what the user typed.
func (s *server) submitNewJob(c echo.Context, _ *principal) error {
	f, err := s.readNewJobForm(c)
	if err != nil {
		return err
	}
	defer f.Close()
	v := &f.view
	req := submitRequest(v)
	if f.file == nil && len(f.pasted) == 0 {
		v.Errors[views.FieldLigands] = "Paste at least one ligand, or choose a library file."
	}
	if f.file != nil {
		v.FileName = f.file.Filename
	}
	if req.Receptor, err = f.receptorUpload(); err != nil {
		var je *jobs.Error
		if !errors.As(err, &je) {
			return err
		}
		v.Errors[views.FieldReceptor] = je.Message
	}
	if len(v.Errors) > 0 {
		return s.renderNewJob(c, http.StatusBadRequest, *v, nil)
	}
	ctx := c.Request().Context()
	caller := s.caller(c)
	caller.IdempotencyKey = v.SubmissionKey
	submit := func() (*api.SubmitBatchResponse, error) {
		if f.file == nil {
			req.Ligands = f.pasted
			return s.Service.SubmitBatch(ctx, caller, req)
		}
		file, ferr := f.file.Open()
		if ferr != nil {
			return nil, fmt.Errorf("open uploaded file: %w", ferr)
		}
		defer file.Close()
		return s.Service.SubmitLibrary(ctx, caller, req, file, f.file.Filename)
	}
	resp, err := submit()
	if je := (*jobs.Error)(nil); errors.As(err, &je) && je.Field == jobs.IdempotencyField {
		// The form was sent before with other values (back, edit, send) or
		// its batch was cancelled since: this is a new submission.
		caller.IdempotencyKey = newFormKey()
		resp, err = submit()
	}
	if err == nil {
		return c.Redirect(http.StatusSeeOther, views.BatchResultsPath(resp.BatchID))
	}
	status, d := errorOf(err)
	if status >= http.StatusInternalServerError {
		return err
	}
	source := views.FieldLigands
	if f.file != nil {
		source = views.FieldFile
	}
	switch {
	case len(d.Problems) > 0:
		v.Problems = d.Problems
		if f.file == nil {
			for i, p := range v.Problems {
				if p.Row > 0 && p.Row <= len(f.lines) {
					v.Problems[i].Line = f.lines[p.Row-1]
				}
			}
		}
		v.Errors[source] = fmt.Sprintf("%d %s: every one is listed at the top of the page. Fix them, or tick “Skip invalid ligands”.",
			len(d.Problems), plural(len(d.Problems), "problem", "problems"))
	case formKey(*v, d.Field) != "":
		v.Errors[formKey(*v, d.Field)] = d.Message
	default:
		v.Problem = d.Error()
	}
	return s.renderNewJob(c, status, *v, nil)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// checkLigands checks the pasted ligands, or the chosen library file,
// with the chosen model's rules: htmx gets the check alone, a plain
// request the whole form with the check under the ligands. Problems of
// the ligands are the answer, not errors: the fragment answers 200.
func (s *server) checkLigands(c echo.Context, p *principal) error {
	f, err := s.readNewJobForm(c)
	if err != nil {
		return err
	}
	defer f.Close()
	v := &f.view
	delete(v.Errors, views.FieldModel)
	model := ""
	if _, ok := v.Chosen(); ok {
		model = v.Model
	}
	ctx := c.Request().Context()
	var (
		resp   *api.ValidateLigandsResponse
		source = "Pasted ligands"
		lines  []int
	)
	switch {
	case f.file != nil:
		source = f.file.Filename
		file, ferr := f.file.Open()
		if ferr != nil {
			return fmt.Errorf("open uploaded file: %w", ferr)
		}
		defer file.Close()
		resp, err = s.Service.ValidateLibrary(ctx, p.user.ID, file, f.file.Filename, model)
	case len(f.pasted) > 0:
		lines = f.lines
		resp, err = s.Service.ValidateLigands(ctx, p.user.ID, api.ValidateLigandsRequest{Ligands: f.pasted, ModelName: model})
	default:
		v.Check = &views.LigandCheckView{Empty: true}
	}
	switch {
	case resp != nil:
		v.Check = views.NewLigandCheck(source, resp, lines)
	case err != nil:
		status, d := errorOf(err)
		if status >= http.StatusInternalServerError {
			return err
		}
		v.Check = &views.LigandCheckView{Source: source, Error: d.Error(), Problems: d.Problems}
	}
	return s.renderNewJob(c, http.StatusOK, *v, views.LigandCheck(v.Check))
}

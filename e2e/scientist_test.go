package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"omtx/api"
	"omtx/client"
)

// library is the small ligand library the scientist docks: three tiny
// molecules that Vina docks in seconds at exhaustiveness 1.
const library = "testdata/small_library.csv"

var libraryNames = []string{"acetic acid", "benzene", "ethanol"}

// TestScientist walks the web app as a scientist does, in one browser
// each for the local user and for bob, against real Vina: sign in, submit
// a library, watch its progress reach 100%, sort the results by affinity,
// open the best ligand's job, download the CSV; bob cannot open the
// batch. Every step leaves a screenshot in artifacts/.
func TestScientist(t *testing.T) {
	h := require(t)
	local := h.newSession(t, "local")
	var batchID, bestJob, bestName string
	var table []float64

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"sign in", func(t *testing.T) { local.signIn(t, h.localToken); local.shot(t, "signed-in") }},
		{"submit and watch progress", func(t *testing.T) { batchID = submitAndWatch(t, local) }},
		{"sort by affinity", func(t *testing.T) { table, bestJob, bestName = sortByAffinity(t, local, batchID) }},
		{"download CSV", func(t *testing.T) { downloadCSV(t, local, batchID, table) }},
		{"structure viewer", func(t *testing.T) { structureViewer(t, local, batchID, bestJob, bestName) }},
		{"other user gets 404", func(t *testing.T) { otherUser(t, h, batchID, bestJob) }},
	}
	for _, s := range steps {
		start := time.Now()
		ok := t.Run(s.name, func(t *testing.T) {
			local.shotOnFailure(t)
			s.run(t)
		})
		t.Logf("%s: %s", s.name, time.Since(start).Round(time.Millisecond))
		if !ok {
			return // the next steps build on this one
		}
	}
}

// progressProbe records, in the page, every value the batch's progress bar
// takes and when, and a marker a reload would wipe out.
const progressProbe = `id => {
	const bar = () => document.querySelector('[data-testid="batch-row"][data-batch-id="' + id + '"] progress');
	const probe = { marker: true, seen: [] };
	const note = () => {
		const b = bar();
		const v = b ? Number(b.getAttribute("value")) : null;
		if (probe.seen.length === 0 || probe.seen[probe.seen.length - 1].v !== v) {
			probe.seen.push({ v: v, at: Date.now() });
		}
	};
	note();
	new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
	window.__e2eProgress = probe;
}`

// progressSeen is what progressProbe recorded.
type progressSeen struct {
	Marker bool `json:"marker"`
	Seen   []struct {
		V  *float64 `json:"v"`
		At int64    `json:"at"`
	} `json:"seen"`
}

// submitAndWatch submits the library (through the New prediction form
// where the start page has one, through the API otherwise), pauses it
// through the API so that the page surely sees it unfinished, opens My
// batches, resumes the batch and watches its progress bar reach 100%
// without reloading the page.
func submitAndWatch(t *testing.T, s *session) string {
	c := ctx(t, 3*time.Minute)
	hub, err := client.New(s.h.base, s.h.localToken)
	if err != nil {
		t.Fatal(err)
	}
	if code := s.goTo(t, "/"); code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	if n, _ := s.page.GetByTestId("newjob-form").Count(); n == 0 {
		t.Fatal("the start page has no New prediction form (data-testid=newjob-form)")
	}
	batchID := submitThroughForm(t, s)
	if _, err := hub.Control(c, batchID, api.ActionPause); err != nil {
		if b, berr := hub.Batch(c, batchID); berr != nil || !client.BatchDone(b) {
			t.Fatalf("pause: %v", err)
		}
	}

	if code := s.goTo(t, "/my-batches"); code != 200 {
		t.Fatalf("GET /my-batches: %d", code)
	}
	row := s.page.Locator(fmt.Sprintf(`[data-testid="batch-row"][data-batch-id="%s"]`, batchID))
	s.expect(t, s.h.expect.Locator(row).ToBeVisible(), "the batch is listed")
	bar := row.Locator("progress")
	if before, _ := bar.GetAttribute("value"); before == "100" {
		t.Log("the batch ended before it could be paused: its progress cannot be watched")
	}
	if _, err := s.page.Evaluate(progressProbe, batchID); err != nil {
		t.Fatal(err)
	}
	s.shot(t, "my-batches-paused")

	// A live page says so (data-testid=live-status) once its WebSocket is
	// up: wait for that before the batch moves on.
	live := s.openedSocket("/ws")
	if status := s.page.GetByTestId("live-status"); mustCount(status) > 0 {
		s.expect(t, s.h.expect.Locator(status).ToHaveAttribute("data-state", "live"), "the page goes live")
		live = true
	}
	if _, err := hub.Control(c, batchID, api.ActionResume); err != nil {
		t.Fatalf("resume: %v", err)
	}
	done, err := hub.WaitBatch(c, batchID, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("waiting for the batch: %v", err)
	}
	if done.Status != "completed" || done.Progress.Completed != len(libraryNames) {
		t.Fatalf("batch ended %s with %+v: %s", done.Status, done.Progress, done.Error)
	}
	t.Logf("batch %s docked %d ligands with Vina", batchID, done.Progress.Completed)

	if live {
		// Live: the bar must get to 100% by itself.
		err := s.h.expect.Locator(bar).ToHaveAttribute("value", "100", playwright.LocatorAssertionsToHaveAttributeOptions{Timeout: playwright.Float(5000)})
		var seen progressSeen
		if v, perr := s.page.Evaluate(`() => window.__e2eProgress`); perr == nil {
			raw, _ := json.Marshal(v)
			json.Unmarshal(raw, &seen)
		}
		if !seen.Marker {
			t.Errorf("My batches was reloaded while watching the progress")
		}
		var steps []string
		for _, p := range seen.Seen {
			if p.V != nil {
				steps = append(steps, strconv.FormatFloat(*p.V, 'f', -1, 64))
			}
		}
		if err != nil {
			t.Fatalf("the page holds a live connection, but its progress bar did not reach 100%% within 5 s of the batch's end (went %s): %v",
				strings.Join(steps, " → "), err)
		}
		// With one worker the ligands end seconds apart: the bar must show
		// at least one step between what the page first showed and 100%.
		if len(seen.Seen) > 0 && seen.Seen[0].V != nil && *seen.Seen[0].V < 100 && !stepsBetween(seen, *seen.Seen[0].V, 100) {
			t.Errorf("the progress bar jumped straight to 100%% (went %s): no step was pushed live", strings.Join(steps, " → "))
		}
		lag := "?"
		if n := len(seen.Seen); n > 0 && done.FinishedAt != nil {
			lag = time.UnixMilli(seen.Seen[n-1].At).Sub(*done.FinishedAt).Round(time.Millisecond).String()
		}
		t.Logf("progress bar moved live, without reload: %s%%; 100%% shown %s after the batch finished", strings.Join(steps, " → "), lag)
	} else {
		t.Fatal("My batches has no live status and opened no WebSocket to /ws: its progress bar cannot move by itself")
	}
	s.expect(t, s.h.expect.Locator(row.GetByTestId("batch-status")).ToHaveText("Completed"), "the batch's status")
	s.shot(t, "my-batches-done")
	return batchID
}

// stepsBetween says whether the progress bar showed a value strictly
// between from and to.
func stepsBetween(seen progressSeen, from, to float64) bool {
	for _, p := range seen.Seen {
		if p.V != nil && *p.V > from && *p.V < to {
			return true
		}
	}
	return false
}

// submitThroughForm fills the New prediction form for Vina against ABL1
// with the library file, waits for the check to count the ligands, and
// submits: the browser lands on the batch's results.
func submitThroughForm(t *testing.T, s *session) string {
	option := s.page.Locator(`[data-testid="model-option"][data-model="vina"] input[type="radio"]`)
	if err := option.Check(); err != nil {
		t.Fatalf("choose Vina: %v", err)
	}
	s.expect(t, s.h.expect.Locator(s.page.Locator(`[data-testid="model-fields"][data-model="vina"]`)).ToBeVisible(), "Vina's fields")
	for _, f := range [][2]string{{"target", "ABL1"}, {"exhaustiveness", "1"}, {"num_poses", "1"}} {
		field := s.page.GetByTestId("field-" + f[0])
		var err error
		if mustCount(field.Locator("select")) > 0 {
			_, err = field.Locator("select").SelectOption(playwright.SelectOptionValues{Values: &[]string{f[1]}})
		} else {
			err = field.Locator("input").Fill(f[1])
		}
		if err != nil {
			t.Fatalf("field %s: %v", f[0], err)
		}
	}
	if err := s.page.GetByTestId("job-name").Fill("Small library vs ABL1"); err != nil {
		t.Fatal(err)
	}
	if err := s.page.GetByTestId("library-file").SetInputFiles(library); err != nil {
		t.Fatalf("choose %s: %v", library, err)
	}
	s.expect(t, s.h.expect.Locator(s.page.GetByTestId("check-valid")).ToHaveText(strconv.Itoa(len(libraryNames))), "the check counts the valid ligands")
	s.expect(t, s.h.expect.Locator(s.page.GetByTestId("check-invalid")).ToHaveText("0"), "the check finds no invalid ligand")
	s.shot(t, "newjob-filled")
	if err := s.page.GetByTestId("submit").Click(); err != nil {
		t.Fatal(err)
	}
	s.expect(t, s.page.WaitForURL("**/batch-results/*"), "submitting lands on the batch's results")
	u, err := url.Parse(s.page.URL())
	if err != nil {
		t.Fatal(err)
	}
	s.shot(t, "submitted")
	t.Logf("submitted %s through the New prediction form", library)
	return path.Base(u.Path)
}

// sortByAffinity opens the batch's results from My batches, sorts by the
// affinity header until the best (most negative) comes first, and opens
// the best ligand's job page. It returns the affinities as the table shows
// them, and the best job.
func sortByAffinity(t *testing.T, s *session, batchID string) ([]float64, string, string) {
	row := s.page.Locator(fmt.Sprintf(`[data-testid="batch-row"][data-batch-id="%s"]`, batchID))
	if err := row.GetByTestId("batch-open").Click(); err != nil {
		t.Fatal(err)
	}
	s.expect(t, s.page.WaitForURL("**/batch-results/"+batchID+"*"), "the results page opens")
	rows := s.page.GetByTestId("result-row")
	s.expect(t, s.h.expect.Locator(rows).ToHaveCount(len(libraryNames)), "one row per ligand")
	s.shot(t, "results")

	th := s.page.Locator(`th[data-testid="results-header"][data-sort="affinity"]`)
	header, err := th.TextContent()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(header, "kcal/mol") {
		t.Errorf("affinity header %q has no unit kcal/mol", strings.TrimSpace(header))
	}
	// The first click sorts by affinity best first; when the page already
	// is, it flips the order, and a second click brings it back.
	var values []float64
	for clicks := 1; clicks <= 2; clicks++ {
		was, _ := th.GetAttribute("aria-sort")
		if err := th.Locator("a").Click(); err != nil {
			t.Fatal(err)
		}
		s.expect(t, s.h.expect.Locator(th).Not().ToHaveAttribute("aria-sort", was), "sorting swaps the table")
		values = affinities(t, s)
		if slices.IsSorted(values) {
			break
		}
	}
	if !slices.IsSorted(values) {
		t.Fatalf("no click on the affinity header put the best (most negative) first: %v", values)
	}
	if sort, _ := th.GetAttribute("aria-sort"); sort != "ascending" {
		t.Errorf("affinity sorted best first, but its header says aria-sort=%q", sort)
	}
	for _, v := range values {
		if v >= 0 {
			t.Errorf("affinity %v kcal/mol: want negative", v)
		}
	}
	s.shot(t, "results-by-affinity")
	t.Logf("affinities, best first (kcal/mol): %v", values)

	best := rows.First()
	bestJob, _ := best.GetAttribute("data-job-id")
	bestName, _ := best.GetByTestId("result-ligand").TextContent()
	bestName = strings.TrimSpace(bestName)
	if err := best.GetByTestId("result-ligand").Locator("a").Click(); err != nil {
		t.Fatal(err)
	}
	s.expect(t, s.page.WaitForURL("**/jobs/"+bestJob), "the best ligand's job page opens")
	s.expect(t, s.h.expect.Locator(s.page.GetByTestId("job-title")).ToContainText(bestName), "the job page names the ligand")
	s.expect(t, s.h.expect.Locator(s.page.GetByTestId("job-status")).ToHaveText("Completed"), "the job completed")
	metric := s.page.Locator(`[data-testid="metric-row"][data-metric="affinity"] [data-testid="metric-value"]`)
	got, err := metric.TextContent()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := parseNumber(got); err != nil || v != values[0] {
		t.Errorf("job page affinity %q, table %v", got, values[0])
	}
	s.shot(t, "best-job")
	return values, bestJob, bestName
}

// affinities reads the affinity column of the results table, top down.
func affinities(t *testing.T, s *session) []float64 {
	t.Helper()
	cells, err := s.page.Locator(`[data-testid="result-row"] [data-testid="result-affinity"]`).AllTextContents()
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, c := range cells {
		v, err := parseNumber(c)
		if err != nil {
			t.Fatalf("affinity cell %q: %v", c, err)
		}
		out = append(out, v)
	}
	return out
}

// parseNumber reads a number as the pages print it, with a typographic
// minus or not.
func parseNumber(s string) (float64, error) {
	return strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), "−", "-"), 64)
}

// downloadCSV downloads the batch's CSV from its results page, as a
// browser download, and checks its rows against the table.
func downloadCSV(t *testing.T, s *session, batchID string, table []float64) {
	if code := s.goTo(t, "/batch-results/"+batchID); code != 200 {
		t.Fatalf("GET results page: %d", code)
	}
	dl, err := s.page.ExpectDownload(func() error { return s.page.GetByTestId("export-csv").Click() })
	if err != nil {
		t.Fatalf("download the CSV: %v", err)
	}
	name := dl.SuggestedFilename()
	saved := filepath.Join(s.h.artifacts, "download-"+name)
	if err := dl.SaveAs(saved); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ".csv") {
		t.Errorf("downloaded %q, not a .csv", name)
	}
	f, err := os.Open(saved)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(rows) != 1+len(libraryNames) {
		t.Fatalf("%s has %d rows, want a header and %d ligands", name, len(rows), len(libraryNames))
	}
	nameCol, affCol := slices.Index(rows[0], "ligand_name"), slices.Index(rows[0], "affinity (kcal/mol)")
	if nameCol < 0 || affCol < 0 {
		t.Fatalf("%s header %v: no ligand_name or affinity (kcal/mol)", name, rows[0])
	}
	var names []string
	var values []float64
	for _, r := range rows[1:] {
		names = append(names, r[nameCol])
		v, err := strconv.ParseFloat(r[affCol], 64)
		if err != nil || v >= 0 || math.IsNaN(v) {
			t.Errorf("%s: %s's affinity %q is not a negative number", name, r[nameCol], r[affCol])
		}
		values = append(values, v)
	}
	slices.Sort(names)
	if !slices.Equal(names, libraryNames) {
		t.Errorf("%s lists %v, want %v", name, names, libraryNames)
	}
	slices.Sort(values)
	for i := range values {
		// The table rounds to two decimals.
		if i < len(table) && math.Abs(values[i]-table[i]) > 0.006 {
			t.Errorf("%s affinities %v, the table %v", name, values, table)
			break
		}
	}
	t.Logf("downloaded %s: %d ligands, affinities %v", name, len(rows)-1, values)
}

// structureViewer checks the Mol* viewer draws the best ligand's complex,
// where the pages have one.
func structureViewer(t *testing.T, s *session, batchID, jobID, ligand string) {
	if code := s.goTo(t, "/jobs/"+jobID); code != 200 {
		t.Fatalf("GET job page: %d", code)
	}
	viewer := s.page.GetByTestId("structure-viewer")
	if n, _ := viewer.Count(); n == 0 {
		s.goTo(t, "/batch-results/"+batchID)
		for _, role := range []string{"tab", "link"} {
			if tab := s.page.GetByRole(playwright.AriaRole(role), playwright.PageGetByRoleOptions{Name: "Structures", Exact: playwright.Bool(true)}); mustCount(tab) > 0 {
				tab.First().Click()
				break
			}
		}
		if mustCount(viewer) == 0 {
			t.Fatal("no structure viewer (data-testid=structure-viewer) on the job page or the results page")
		}
	}
	canvas := viewer.First().Locator("canvas").First()
	s.expect(t, s.h.expect.Locator(canvas).ToBeVisible(playwright.LocatorAssertionsToBeVisibleOptions{Timeout: playwright.Float(30_000)}),
		"the viewer has a canvas")
	// Drawn means more than a blank background: poll the canvas's pixels.
	// Software WebGL on a busy 2-core machine can take a while per frame:
	// the screenshot and the wait allow for it.
	var colours int
	for end := time.Now().Add(90 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		shot, err := canvas.Screenshot(playwright.LocatorScreenshotOptions{Timeout: playwright.Float(60_000)})
		if err != nil {
			t.Fatal(err)
		}
		if colours = distinctColours(shot); colours >= 16 {
			break
		}
	}
	s.shot(t, "structure-viewer")
	if colours < 16 {
		t.Fatalf("the viewer's canvas stays blank (%d colours) for %s", colours, ligand)
	}
	t.Logf("structure viewer drew %s with %d colours", ligand, colours)
}

func mustCount(l playwright.Locator) int {
	n, _ := l.Count()
	return n
}

// distinctColours counts the colours of a PNG, up to 1000.
func distinctColours(raw []byte) int {
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return 0
	}
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && len(seen) < 1000; y += 2 {
		for x := b.Min.X; x < b.Max.X && len(seen) < 1000; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r >> 8, g >> 8, bl >> 8, a >> 8}] = true
		}
	}
	return len(seen)
}

// otherUser signs bob in, in his own browser, and opens the local user's
// batch and job: both are the 404 page.
func otherUser(t *testing.T, h *harness, batchID, jobID string) {
	bob := h.newSession(t, "bob")
	bob.shotOnFailure(t)
	bob.signIn(t, h.bobToken)
	for _, p := range []string{"/batch-results/" + batchID, "/jobs/" + jobID} {
		if code := bob.goTo(t, p); code != 404 {
			t.Errorf("bob opening the local user's %s: %d, want 404", p, code)
		}
		bob.expect(t, h.expect.Locator(bob.page.GetByTestId("error")).ToBeVisible(), "bob sees the not-found page")
		bob.expect(t, h.expect.Locator(bob.page.GetByTestId("user-name")).ToHaveText("bob"), "still bob")
		if txt, _ := bob.page.Locator("main").TextContent(); strings.Contains(txt, "Small library") {
			t.Errorf("the not-found page shows the batch's name: %q", txt)
		}
	}
	bob.shot(t, "bob-404")
}

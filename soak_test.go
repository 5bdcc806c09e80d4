package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"omtx/api"
	"omtx/loadgen"
)

// The soak runs only when asked: go test -run TestSoak -soak 10m .
var (
	soakFor   = flag.Duration("soak", 0, "run TestSoak for this long (0: skip it)")
	soakRate  = flag.Float64("soak-rate", 1000, "TestSoak: requests per second")
	soakEvery = flag.Duration("soak-every", 10*time.Second, "TestSoak: how often to sample the server's memory")
	soakBin   = flag.String("soak-bin", "", "TestSoak: the omtx binary to serve with (default: built afresh)")
)

// soakUsers is how many enterprise users share the load, so that each
// stays under its tier's rate limits (12,000 reads and 300 submissions a
// minute): at 1,000 req/s each sends about 123 reads and 2.5 submissions
// a second.
const soakUsers = 8

// soakSample is the server's memory at one moment of the soak.
type soakSample struct {
	at         time.Duration // since the load started
	rss        int64         // bytes, /proc/PID/status VmRSS
	heap       int64         // bytes, go_memstats_heap_inuse_bytes
	goroutines int64
}

// TestSoak runs a real `omtx serve` (SQLite, files, no workers) and
// drives it at a fixed rate with a mix of reads and writes from several
// users for the -soak duration, sampling the server's RSS, Go heap and
// goroutines every -soak-every. It prints the requests, errors, achieved
// rate, latencies and memory at start, middle and end, and fails on any
// failed request, a rate under 95% of the schedule's, or memory that is
// not flat: after the warm-up (the first tenth of the run, at least two
// samples), the last third's mean RSS and heap must be within 20% of the
// first third's.
func TestSoak(t *testing.T) {
	if *soakFor <= 0 {
		t.Skip("a soak runs with -soak DURATION (make soak)")
	}
	bin := *soakBin
	if bin == "" {
		bin = buildBinary(t)
	}
	data := t.TempDir()
	tokens := make([]string, soakUsers)
	for i := range tokens {
		out, err := exec.Command(bin, "users", "add", fmt.Sprintf("soak%d", i), "--tier", "enterprise", "--data", data).Output()
		if err != nil {
			t.Fatalf("users add: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		tokens[i] = strings.TrimSpace(lines[len(lines)-1])
	}
	srv := startSoakServer(t, bin, data)

	// Each user's records: a batch of 50 ligands to read (pending: no
	// worker runs it) and a few more for the list.
	smiles := []string{"CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1", "CCN(CC)CCNC(=O)c1ccc(N)cc1", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"}
	batches := make([]string, soakUsers)
	headers := make([]http.Header, soakUsers)
	for i, tok := range tokens {
		headers[i] = http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
		req := api.SubmitBatchRequest{JobName: "soak reads", ModelName: "vina", ProteinName: "ABL1", Target: "ABL1"}
		for j := range 50 {
			req.Ligands = append(req.Ligands, api.Ligand{Name: fmt.Sprintf("lig%02d", j), SMILES: smiles[j%len(smiles)]})
		}
		var resp api.SubmitBatchResponse
		soakDo(t, srv.url+"/api/v3/batches/submit", headers[i], req, &resp)
		batches[i] = resp.BatchID
		for range 5 {
			req.Ligands = req.Ligands[:3]
			soakDo(t, srv.url+"/api/v3/batches/submit", headers[i], req, nil)
		}
	}
	// Every route takes the users' credentials in turn; those that name
	// a batch name the user's own (another user's answers 404).
	fresh := []api.Ligand{{Name: "paracetamol", SMILES: "CC(=O)Nc1ccc(O)cc1"}, {Name: "ethanol", SMILES: "CCO"},
		{Name: "phenol", SMILES: "Oc1ccccc1"}, {Name: "toluene", SMILES: "Cc1ccccc1"}}
	validate, _ := json.Marshal(api.ValidateLigandsRequest{Ligands: fresh})
	submit, _ := json.Marshal(api.SubmitBatchRequest{JobName: "soak", ModelName: "vina", ProteinName: "ABL1", Target: "ABL1", Ligands: fresh})
	var asUser, batch, results []loadgen.Turn
	for i, h := range headers {
		asUser = append(asUser, loadgen.Turn{Header: h})
		batch = append(batch, loadgen.Turn{URL: srv.url + "/api/v3/batches/" + batches[i], Header: h})
		results = append(results, loadgen.Turn{URL: srv.url + "/api/v3/batches/" + batches[i] + "/results?sort=affinity&page_size=50", Header: h})
	}
	// Reads 72 of 88 (batch 40, results 24, list 8); writes 16 of 88
	// (validate 14, submit 2: 2.3% of the requests are submissions).
	targets := []loadgen.Target{
		{Name: "batch", URL: batch[0].URL, Turns: batch, Weight: 40},
		{Name: "results", URL: results[0].URL, Turns: results, Weight: 24},
		{Name: "list", URL: srv.url + "/api/v3/batches?page_size=20", Turns: asUser, Weight: 8},
		{Name: "validate", Method: http.MethodPost, URL: srv.url + "/api/v3/ligands/validate", Body: validate, Turns: asUser, Weight: 14},
		{Name: "submit", Method: http.MethodPost, URL: srv.url + "/api/v3/batches/submit", Body: submit, Turns: asUser, Weight: 2},
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	samples := make(chan []soakSample, 1)
	first := srv.sample(t, 0)
	t.Logf("t=%5s rss %s heap %s goroutines %d (before the load)", "0s", mib(first.rss), mib(first.heap), first.goroutines)
	start := time.Now()
	go func() {
		got := []soakSample{first}
		tick := time.NewTicker(*soakEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				samples <- got
				return
			case <-tick.C:
				s := srv.sample(t, time.Since(start))
				got = append(got, s)
				t.Logf("t=%5s rss %s heap %s goroutines %d", s.at.Round(time.Second), mib(s.rss), mib(s.heap), s.goroutines)
			}
		}
	}()
	res, err := loadgen.RunPaced(context.Background(), loadgen.PacedConfig{Targets: targets, Rate: *soakRate, Duration: *soakFor})
	if err != nil {
		t.Fatal(err)
	}
	last := srv.sample(t, time.Since(start))
	cancel()
	all := append(<-samples, last)

	mid := all[0]
	for _, s := range all {
		if (s.at - *soakFor/2).Abs() < (mid.at - *soakFor/2).Abs() {
			mid = s
		}
	}
	rssFlat, rssLine := flatness(all, *soakFor, func(s soakSample) int64 { return s.rss })
	heapFlat, heapLine := flatness(all, *soakFor, func(s soakSample) int64 { return s.heap })
	tot := res.Total
	t.Logf("soak of %v at %.0f req/s against omtx serve (pid %d), %d users", *soakFor, *soakRate, srv.cmd.Process.Pid, soakUsers)
	t.Logf("requests  %d", tot.Requests)
	t.Logf("errors    %d transport, %d non-2xx", tot.Errors, tot.Non2xx)
	t.Logf("rate      %.0f req/s achieved", tot.ReqPerSec)
	t.Logf("latency   p50 %v  p90 %v  p99 %v  max %v (from the scheduled start)", tot.P50, tot.P90, tot.P99, tot.Max)
	t.Logf("RSS       start %s  middle %s (t=%v)  end %s", mib(all[0].rss), mib(mid.rss), mid.at.Round(time.Second), mib(last.rss))
	t.Logf("Go heap   start %s  middle %s  end %s (in use)", mib(all[0].heap), mib(mid.heap), mib(last.heap))
	t.Logf("goroutines start %d  middle %d  end %d", all[0].goroutines, mid.goroutines, last.goroutines)
	for _, r := range targets {
		t.Logf("  %-9s %s", r.Name, res.ByTarget[r.Name])
	}
	t.Logf("verdict   RSS %s", rssLine)
	t.Logf("verdict   heap %s", heapLine)
	if tot.Errors+tot.Non2xx > 0 {
		t.Errorf("%d requests failed", tot.Errors+tot.Non2xx)
	}
	if tot.ReqPerSec < 0.95**soakRate {
		t.Errorf("achieved %.0f req/s, under 95%% of %.0f", tot.ReqPerSec, *soakRate)
	}
	if !rssFlat || !heapFlat {
		t.Errorf("memory is not flat")
	}
}

// flatness compares the mean of the last third of the samples after the
// warm-up (a tenth of the run, at least two sampling periods) with the
// first third's.
func flatness(all []soakSample, d time.Duration, v func(soakSample) int64) (bool, string) {
	warm := max(d/10, 2**soakEvery)
	var after []soakSample
	for _, s := range all {
		if s.at >= warm {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		return true, fmt.Sprintf("not judged: %d samples after the warm-up", len(after))
	}
	k := max(1, len(after)/3)
	mean := func(ss []soakSample) float64 {
		var sum float64
		for _, s := range ss {
			sum += float64(v(s))
		}
		return sum / float64(len(ss))
	}
	a, b := mean(after[:k]), mean(after[len(after)-k:])
	change := (b - a) / a
	ok := change <= 0.20
	word := "flat"
	if !ok {
		word = "GROWING"
	}
	return ok, fmt.Sprintf("%s: last third's mean %s vs first third's %s after %v of warm-up (%+.1f%%, %d samples, limit +20%%)",
		word, mib(int64(b)), mib(int64(a)), warm.Round(time.Second), 100*change, len(after))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// soakServer is a running omtx serve.
type soakServer struct {
	cmd *exec.Cmd
	url string
}

// startSoakServer runs `omtx serve` without workers on data; its log
// goes to data/serve.log.
func startSoakServer(t *testing.T, bin, data string) *soakServer {
	t.Helper()
	cmd, url := serveProcess(t, bin, data)
	return &soakServer{cmd: cmd, url: url}
}

var (
	vmRSS       = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)
	heapInuse   = regexp.MustCompile(`(?m)^go_memstats_heap_inuse_bytes ([0-9.e+]+)`)
	goroutinesR = regexp.MustCompile(`(?m)^go_goroutines ([0-9.e+]+)`)
)

// sample reads the server's RSS from /proc and its heap and goroutines
// from /metrics.
func (s *soakServer) sample(t *testing.T, at time.Duration) soakSample {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Errorf("read the server's RSS: %v", err)
		return soakSample{at: at}
	}
	out := soakSample{at: at}
	if m := vmRSS.FindSubmatch(status); m != nil {
		kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		out.rss = kb << 10
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Errorf("scrape /metrics: %v", err)
		return out
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for re, dst := range map[*regexp.Regexp]*int64{heapInuse: &out.heap, goroutinesR: &out.goroutines} {
		m := re.FindSubmatch(body)
		if m == nil {
			t.Errorf("/metrics lacks %s", re)
			continue
		}
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		*dst = int64(f)
	}
	return out
}

// soakDo sends one JSON request and decodes a 2xx answer into out.
func soakDo(t *testing.T, url string, h http.Header, body, out any) {
	t.Helper()
	buf, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
	}
}

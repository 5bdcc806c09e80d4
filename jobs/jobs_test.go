package jobs_test

import (
	"testing"
	"time"

	"omtx/jobs"
)

func TestTransitions(t *testing.T) {
	allowed := map[[2]jobs.Status]bool{
		{jobs.StatusPending, jobs.StatusRunning}:   true,
		{jobs.StatusPending, jobs.StatusCancelled}: true,
		{jobs.StatusPending, jobs.StatusCompleted}: true, // reused result
		{jobs.StatusPending, jobs.StatusFailed}:    true, // cannot run
		{jobs.StatusRunning, jobs.StatusCompleted}: true,
		{jobs.StatusRunning, jobs.StatusFailed}:    true,
		{jobs.StatusRunning, jobs.StatusCancelled}: true,
		{jobs.StatusRunning, jobs.StatusPending}:   true, // retry
	}
	for _, from := range jobs.Statuses {
		for _, to := range jobs.Statuses {
			want := allowed[[2]jobs.Status{from, to}]
			if got := jobs.CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
			err := jobs.CheckTransition("j", from, to)
			if (err == nil) != want || (err != nil && !jobs.IsCode(err, jobs.ErrConflict)) {
				t.Errorf("CheckTransition(%s, %s) = %v", from, to, err)
			}
		}
	}
	for _, s := range []jobs.Status{jobs.StatusCompleted, jobs.StatusFailed, jobs.StatusCancelled} {
		if !s.Final() {
			t.Errorf("%s should be final", s)
		}
	}
	if jobs.StatusPending.Final() || jobs.StatusRunning.Final() || jobs.Status("bogus").Final() {
		t.Error("pending, running and unknown statuses are not final")
	}
	if got := jobs.From(jobs.StatusCancelled); len(got) != 2 {
		t.Errorf("From(cancelled) = %v", got)
	}
	if _, err := jobs.ParseStatus("done"); !jobs.IsCode(err, jobs.ErrInvalid) {
		t.Errorf("ParseStatus(done) = %v", err)
	}
}

func TestExponentialRetry(t *testing.T) {
	r := jobs.ExponentialRetry{Base: 10 * time.Second, Max: time.Minute}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := r.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := r.Backoff(1000); got != time.Minute {
		t.Errorf("Backoff(1000) = %v", got)
	}
}

func TestProgress(t *testing.T) {
	p := jobs.Progress{Total: 8, Pending: 8}
	before := p
	p.Move(jobs.StatusPending, jobs.StatusRunning, 2)
	p.Move(jobs.StatusRunning, jobs.StatusCompleted, 2)
	if p.Pending != 6 || p.Running != 0 || p.Completed != 2 || p.Percent() != 25 {
		t.Fatalf("progress %+v, %v%%", p, p.Percent())
	}
	if got := jobs.CrossedMilestones(before, p); len(got) != 2 || got[0] != 10 || got[1] != 25 {
		t.Fatalf("crossed %v", got)
	}
	if (jobs.Progress{}).Percent() != 0 {
		t.Fatal("empty progress percent")
	}
}

func TestFinalStatus(t *testing.T) {
	cases := []struct {
		p      jobs.Progress
		cancel bool
		want   jobs.Status
	}{
		{jobs.Progress{Total: 3, Completed: 1, Failed: 2}, false, jobs.StatusCompleted},
		{jobs.Progress{Total: 3, Failed: 3}, false, jobs.StatusFailed},
		{jobs.Progress{Total: 3, Cancelled: 3}, true, jobs.StatusCancelled},
		{jobs.Progress{Total: 3, Completed: 1, Cancelled: 2}, true, jobs.StatusCompleted},
		{jobs.Progress{Total: 3, Failed: 1, Cancelled: 2}, true, jobs.StatusCancelled},
	}
	for _, c := range cases {
		if got := jobs.FinalStatus(c.p, c.cancel); got != c.want {
			t.Errorf("FinalStatus(%+v, %v) = %s, want %s", c.p, c.cancel, got, c.want)
		}
	}
}

func TestContentKey(t *testing.T) {
	a, err := jobs.ContentKey("vina", "1.2.3", map[string]any{"smiles": "CCO", "target": "ABL1"})
	if err != nil {
		t.Fatal(err)
	}
	type in struct {
		Target string `json:"target"`
		SMILES string `json:"smiles"`
	}
	b, _ := jobs.ContentKey("vina", "1.2.3", in{Target: "ABL1", SMILES: "CCO"})
	if a != b {
		t.Fatal("the same input as a map and a struct gave different keys")
	}
	for _, other := range []struct{ model, version, smiles string }{
		{"vina", "1.2.4", "CCO"}, {"boltz2", "1.2.3", "CCO"}, {"vina", "1.2.3", "CCN"},
	} {
		k, _ := jobs.ContentKey(other.model, other.version, map[string]any{"smiles": other.smiles, "target": "ABL1"})
		if k == a {
			t.Errorf("%+v has the same key", other)
		}
	}
}

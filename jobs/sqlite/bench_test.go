package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"omtx/jobs"
)

func benchSubmission(n int) jobs.Submission {
	children := make([]jobs.ChildSubmission, n)
	for i := range children {
		children[i] = jobs.ChildSubmission{
			Name:       fmt.Sprintf("ligand-%d", i),
			Input:      json.RawMessage(fmt.Sprintf(`{"smiles":"CC(=O)Oc1ccccc1C(=O)O","row":%d}`, i)),
			ContentKey: fmt.Sprintf("%064d", i),
		}
	}
	return jobs.Submission{UserID: "bench", Model: "vina", ModelVersion: "1.2.3", Name: "bench",
		Input: json.RawMessage(`{"target":"ABL1"}`), Children: children}
}

// BenchmarkSubmit measures submitting a whole batch (parent and children in
// one transaction).
func BenchmarkSubmit(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			s := openStore(b, jobs.SystemClock{})
			defer s.Close()
			sub := benchSubmission(n)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Submit(ctx, sub); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/batch")
		})
	}
}

// BenchmarkLeaseComplete measures one worker leasing and completing jobs
// back to back from a queue of batch children.
func BenchmarkLeaseComplete(b *testing.B) {
	s := openStore(b, jobs.SystemClock{})
	defer s.Close()
	ctx := context.Background()
	sub := benchSubmission(b.N)
	for i := range sub.Children {
		sub.Children[i].ContentKey = ""
	}
	if _, err := s.Submit(ctx, sub); err != nil {
		b.Fatal(err)
	}
	p := jobs.LeaseParams{Owner: "bench", Models: []string{"vina"}, TTL: time.Minute}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, err := s.JobLease(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.JobComplete(ctx, *j.Lease, json.RawMessage(`{"affinity":-7.5}`)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkStats measures the operators' counts over 100,000 jobs: ten
// batches of 10,000 children, some of them leased, completed and failed.
func BenchmarkStats(b *testing.B) {
	s := openStore(b, jobs.SystemClock{})
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		sub := benchSubmission(10000)
		sub.UserID = fmt.Sprintf("user-%d", i%4)
		for j := range sub.Children {
			sub.Children[j].ContentKey = ""
		}
		if _, err := s.Submit(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}
	p := jobs.LeaseParams{Owner: "bench", Models: []string{"vina"}, TTL: time.Minute}
	for i := 0; i < 300; i++ {
		j, err := s.JobLease(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		switch i % 3 {
		case 0:
			err = s.JobComplete(ctx, *j.Lease, json.RawMessage(`{"affinity":-7.5}`))
		case 1:
			err = s.JobFail(ctx, *j.Lease, jobs.Failure{Error: "out of memory", Retryable: true})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := s.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Queued+st.Delayed != 100000-200 {
			b.Fatalf("stats: %+v", st)
		}
	}
}

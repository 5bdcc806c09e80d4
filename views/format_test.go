package views

import (
	"testing"
	"time"

	"omtx/api"
)

func TestFormatPercent(t *testing.T) {
	for in, want := range map[float64]string{0: "0%", 100: "100%", 66.666: "66.7%", 33.34: "33.3%", 99.96: "100%", 120: "100%", -3: "0%", 50: "50%"} {
		if got := FormatPercent(in); got != want {
			t.Errorf("FormatPercent(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for in, want := range map[float64]string{
		-7.1: "-7.1", -7.14: "-7.14", -7.146: "-7.15", -9: "-9.0", 12.5: "12.5",
		0.8734: "0.873", -0.25: "-0.250", 0: "0.0", 0.00012: "0.00012", 3500: "3500",
	} {
		if got := FormatValue(in); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", in, got, want)
		}
	}
	if got := FormatOptional(nil); got != "–" {
		t.Errorf("FormatOptional(nil) = %q", got)
	}
}

func TestTimes(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ago  time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{5 * time.Minute, "5 minutes ago"},
		{3 * time.Hour, "3 hours ago"},
		{49 * time.Hour, "2 days ago"},
		{60 * 24 * time.Hour, "2026-01-01"},
	} {
		if got := RelativeTime(now.Add(-c.ago), now); got != c.want {
			t.Errorf("RelativeTime(-%v) = %q, want %q", c.ago, got, c.want)
		}
	}
	if got := RelativeTime(time.Time{}, now); got != "" {
		t.Errorf("zero time: %q", got)
	}
	berlin := time.FixedZone("CET", 3600)
	if got := FormatTime(time.Date(2026, 3, 2, 10, 30, 0, 0, berlin)); got != "2026-03-02 09:30 UTC" {
		t.Errorf("FormatTime = %q", got)
	}
}

func TestBadges(t *testing.T) {
	for st, want := range map[string]string{"completed": "badge status-completed", "failed": "badge status-failed", "weird": "badge", "": "badge"} {
		if got := BadgeClass(st); got != want {
			t.Errorf("BadgeClass(%q) = %q, want %q", st, got, want)
		}
	}
	if StatusLabel("running") != "Running" || StatusLabel("") != "Unknown" {
		t.Errorf("labels: %q %q", StatusLabel("running"), StatusLabel(""))
	}
}

func TestMetricHeader(t *testing.T) {
	vina := api.Metric{Name: "affinity", Label: "Best affinity", Unit: "kcal/mol", Better: "lower"}
	if got := MetricHeader(vina); got != "Best affinity (kcal/mol, lower is better)" {
		t.Errorf("vina: %q", got)
	}
	prob := api.Metric{Name: "affinity_probability_binary", Label: "Binding probability", Better: "higher"}
	if got := MetricHeader(prob); got != "Binding probability (higher is better)" {
		t.Errorf("boltz: %q", got)
	}
	if got := MetricHeader(api.Metric{Name: "x", Better: "lower"}); got != "x (lower is better)" {
		t.Errorf("no label: %q", got)
	}
}

package accounts_test

import (
	"errors"
	"strings"
	"testing"

	"omtx/accounts"
	"omtx/jobs"
)

func TestParseTier(t *testing.T) {
	t.Parallel()
	for _, tier := range accounts.Tiers() {
		got, err := accounts.ParseTier(string(tier))
		if err != nil || got != tier {
			t.Fatalf("ParseTier(%q) = %q, %v", tier, got, err)
		}
	}
	for _, s := range []string{"", "Premium", "gold", " default"} {
		_, err := accounts.ParseTier(s)
		var e *jobs.Error
		if !errors.As(err, &e) || e.Code != jobs.ErrInvalid || e.Field != "tier" {
			t.Fatalf("ParseTier(%q): %v, want a field error about tier", s, err)
		}
		for _, name := range []string{"default", "premium", "enterprise"} {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("ParseTier(%q): %q does not list %s", s, err, name)
			}
		}
	}
}

func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	limits := accounts.DefaultLimits()
	want := map[accounts.Tier]accounts.Limits{
		accounts.TierDefault:    {60, 3000, 2000, 4},
		accounts.TierPremium:    {150, 6000, 10000, 16},
		accounts.TierEnterprise: {300, 12000, 50000, 64},
	}
	if len(limits) != len(want) {
		t.Fatalf("%d tiers, want %d", len(limits), len(want))
	}
	for tier, w := range want {
		if limits[tier] != w {
			t.Fatalf("%s: %+v, want %+v", tier, limits[tier], w)
		}
	}
	// Each call returns its own map.
	limits[accounts.TierDefault] = accounts.Limits{}
	if accounts.DefaultLimits()[accounts.TierDefault] != want[accounts.TierDefault] {
		t.Fatal("changing one map changed the defaults")
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "alice", "Alice.B_c-9", strings.Repeat("z", 64)} {
		if err := accounts.ValidateName(ok); err != nil {
			t.Fatalf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a b", "é", "a\x00", "a\n", "<script>", strings.Repeat("z", 65)} {
		if err := accounts.ValidateName(bad); !jobs.IsCode(err, jobs.ErrInvalid) {
			t.Fatalf("%q: %v, want invalid", bad, err)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		for _, c := range []string{accounts.NewToken(), accounts.NewSessionSecret(), accounts.NewCSRF()} {
			if seen[c] {
				t.Fatalf("credential %q twice", c)
			}
			seen[c] = true
		}
	}
	tok := accounts.NewToken()
	if !strings.HasPrefix(tok, "omtx_") || len(tok) != len("omtx_")+43 {
		t.Fatalf("token %q", tok)
	}
	sec := accounts.NewSessionSecret()
	if !strings.HasPrefix(sec, "omtxs_") || len(sec) != len("omtxs_")+43 {
		t.Fatalf("session secret %q", sec)
	}
	// SHA-256 of "abc".
	if got := accounts.HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashSecret(abc) = %s", got)
	}
}

func TestNameFor(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 100)
	for _, tc := range []struct{ display, email, want string }{
		{"", "jane.doe@example.com", "jane.doe"},
		{"Jane Doe", "jane@example.com", "Jane-Doe"},
		{"  Zoë  O'Brien ", "", "Zo-O-Brien"},
		{"张伟", "wei+lab@example.com", "wei-lab"},
		{"", "", "user"},
		{"---", "@example.com", "user"},
		{".hidden.", "", "hidden"},
		{long, "", long[:accounts.MaxNameLen-8]},
	} {
		got := accounts.NameFor(tc.display, tc.email)
		if got != tc.want {
			t.Errorf("NameFor(%q, %q) = %q, want %q", tc.display, tc.email, got, tc.want)
		}
		if err := accounts.ValidateName(got); err != nil {
			t.Errorf("NameFor(%q, %q) = %q: %v", tc.display, tc.email, got, err)
		}
	}
}

func TestUniqueName(t *testing.T) {
	t.Parallel()
	if got := accounts.UniqueName("alice", 2); got != "alice-2" {
		t.Errorf("UniqueName = %q", got)
	}
	long := strings.Repeat("b", accounts.MaxNameLen)
	got := accounts.UniqueName(long, 12)
	if len(got) != accounts.MaxNameLen || !strings.HasSuffix(got, "-12") || accounts.ValidateName(got) != nil {
		t.Errorf("UniqueName(long, 12) = %q", got)
	}
}

func TestExternalValidate(t *testing.T) {
	t.Parallel()
	if err := (accounts.External{Provider: accounts.ProviderFirebase, Subject: "uid"}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, e := range []accounts.External{{}, {Provider: "firebase"}, {Subject: "uid"},
		{Provider: "firebase", Subject: strings.Repeat("u", accounts.MaxSubjectLen+1)}} {
		if err := e.Validate(); !jobs.IsCode(err, jobs.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", e, err)
		}
	}
}

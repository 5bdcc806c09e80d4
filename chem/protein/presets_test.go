package protein

import "testing"

func TestModelPresets(t *testing.T) {
	const base = "MQIFVKTLTGK"
	tests := []struct {
		name string
		opts Options
		seq  string
		ok   bool
	}{
		{"Boltz X", BoltzOptions, base + "X", true},
		{"Boltz U", BoltzOptions, base + "U", true},
		{"Boltz O", BoltzOptions, base + "O", true},
		{"Boltz B", BoltzOptions, base + "B", false},
		{"Chai X", ChaiOptions, base + "X", true},
		{"Chai U", ChaiOptions, base + "U", false},
		{"Chai O", ChaiOptions, base + "O", false},
		{"Chai Z", ChaiOptions, base + "Z", false},
	}
	for _, tc := range tests {
		_, err := Normalize(tc.seq, tc.opts)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

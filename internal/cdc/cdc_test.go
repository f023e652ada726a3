package cdc

import "testing"

func TestLSNRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("%s -> %v %v -> %s", s, uint64(l), err, l)
		}
	}
	for _, bad := range []string{"", "12", "G/1", "1/100000000"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) succeeded", bad)
		}
	}
}

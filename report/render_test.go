package report

import "testing"

func TestCompressionText(t *testing.T) {
	rec := func(c *Compression, established int) Record {
		return Record{Compression: c, Connect: Connect{Established: established}}
	}
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{rec(nil, 10), ""},
		{rec(&Compression{Offered: true, NegotiatedConns: 10}, 10), "on"},
		{rec(&Compression{Offered: true, NegotiatedConns: 0}, 10), "off"},
		{rec(&Compression{Offered: true, NegotiatedConns: 3}, 10), "3/10"},
	} {
		if got := tc.r.CompressionText(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r.Compression, got, tc.want)
		}
	}
}

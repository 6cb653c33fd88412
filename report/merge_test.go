package report

import (
	"testing"
	"time"
)

// TestMergeAlignsSeriesByWallClock: a shard whose window opened two seconds
// after the first's adds its seconds two later.
func TestMergeAlignsSeriesByWallClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	shard := func(i int, opened time.Time, msgs ...uint64) Record {
		r := Record{Scenario: "echo", Server: "target", Driver: "d", Conns: 5, Run: 1, Status: StatusOK, Errors: map[string]uint64{},
			Shard: &Shard{Index: i, Count: 2, OpenedAt: opened}}
		for k, m := range msgs {
			r.Series = append(r.Series, Second{T: float64(k + 1), Messages: m})
			r.Messages += m
		}
		return r
	}
	res, err := Merge([]*Result{{Records: []Record{shard(0, t0, 10, 10, 10)}}, {Records: []Record{shard(1, t0.Add(2*time.Second), 5, 5)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Records[0]
	var got []uint64
	for _, s := range m.Series {
		got = append(got, s.Messages)
	}
	if len(got) != 4 || got[0] != 10 || got[1] != 10 || got[2] != 15 || got[3] != 5 || m.Messages != 40 || m.Conns != 10 {
		t.Fatalf("merged series %v, %d messages, %d conns", got, m.Messages, m.Conns)
	}
}

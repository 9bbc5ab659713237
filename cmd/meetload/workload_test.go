package main

import (
	"math"
	"testing"
)

func TestFloorPattern(t *testing.T) {
	for _, mix := range [][]sizeShare{
		{{1112, 0.73}, {132, 0.27}},
		{{132, 0.39}, {612, 0.12}, {1062, 0.16}, {1112, 0.33}},
		{{1112, 1}},
	} {
		p := floorPattern(mix, 100)
		for _, m := range mix {
			n := 0
			for _, size := range p {
				if size == m.size {
					n++
				}
			}
			if want := m.share * 100; math.Abs(float64(n)-want) > 1 {
				t.Errorf("%v: %d packets of %d bytes, want %.0f", mix, n, m.size, want)
			}
		}
		// Interleaved: no size comes in a run much longer than its share makes it.
		run, longest := 1, 1
		for i := 1; i < len(p); i++ {
			if p[i] == p[i-1] {
				run++
			} else {
				run = 1
			}
			longest = max(longest, run)
		}
		if len(mix) > 1 && longest > 4 {
			t.Errorf("%v: a run of %d packets of one size", mix, longest)
		}
	}
}

func TestW4Shares(t *testing.T) {
	for _, c := range []struct {
		n     int
		views []int
		want  [3]int
	}{
		{200, []int{0, 1, 2}, [3]int{67, 67, 66}},
		{100, []int{0, 1, 2}, [3]int{34, 33, 33}},
		{9, []int{2}, [3]int{0, 0, 9}},
		{10, []int{2, 0}, [3]int{5, 0, 5}},
	} {
		w := workload{kind: "w4", n: c.n, views: c.views}
		var got [3]int
		for v := range got {
			got[v] = w.viewers(v)
		}
		if got != c.want {
			t.Errorf("n %d views %v: %v subscribers by view, want %v", c.n, c.views, got, c.want)
		}
	}
	// Audio goes to all; each layer to a third: about 0.45 N on average.
	if f := (workload{kind: "w4", n: 200, views: []int{0, 1, 2}}).fanout(); f < 85 || f > 95 {
		t.Errorf("W4 fan-out at 200: %d", f)
	}
	// Everyone on the full layer: the others are paused, as in W1.
	if f := (workload{kind: "w4", n: 200, views: []int{2}}).fanout(); f != 200 {
		t.Errorf("W4 fan-out at 200, all large: %d", f)
	}
}

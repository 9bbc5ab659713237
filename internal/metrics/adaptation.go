package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// adaptation shows how meetd adapts video to its subscribers' links, read
// from the connections at each scrape as /admin/stats is: the simulcast
// layer each video down track forwards, and the subscribe connections'
// bandwidth estimates. Per subscriber they are in /admin/stats; here they
// are counted, so that the series stay few however many watch.
type adaptation struct {
	m                        *Metrics
	layers, estimate, probes *prometheus.Desc
}

// estimateBuckets are the edges of the estimate histogram, in bits per
// second: about a camera's simulcast layers and what lies between.
var estimateBuckets = []float64{150e3, 300e3, 600e3, 1e6, 1.5e6, 2.5e6, 5e6, 10e6}

func newAdaptation(m *Metrics) *adaptation {
	return &adaptation{
		m: m,
		layers: prometheus.NewDesc("meetd_subscriber_video_layers",
			"Simulcast videos forwarded to subscribers, by the layer (RID) forwarded now, and the layer the view and estimate ask for (target); "+
				"a layer below its target is being switched to or waits for a keyframe.", []string{"layer", "target"}, nil),
		estimate: prometheus.NewDesc("meetd_subscriber_estimate_bits",
			"Subscribe connections' estimated bandwidth, in bits per second, of those that have an estimate (from loss or the browser's REMB).", nil, nil),
		probes: prometheus.NewDesc("meetd_subscriber_probes_total",
			"Probes of subscribers' links with padding before a step up to a larger layer, by result: started, passed (the layer went up), failed (loss or a falling REMB; the layer stayed).",
			[]string{"result"}, nil),
	}
}

func (a *adaptation) Describe(ch chan<- *prometheus.Desc) {
	ch <- a.layers
	ch <- a.estimate
	ch <- a.probes
}

func (a *adaptation) Collect(ch chan<- prometheus.Metric) {
	type pair struct{ layer, target string }
	layers := map[pair]float64{}
	buckets := make(map[float64]uint64, len(estimateBuckets))
	var count uint64
	var sum float64
	for _, r := range a.m.rooms.Rooms() {
		for _, mem := range r.Members() {
			ci, ok := a.m.provider.Connection(mem)
			if !ok {
				continue
			}
			if ci.Estimate > 0 {
				est := float64(ci.Estimate)
				count++
				sum += est
				for _, b := range estimateBuckets {
					if est <= b {
						buckets[b]++
					}
				}
			}
			for _, d := range ci.Receiving {
				if d.Kind == "video" && (d.Layer != "" || d.Target != "") {
					layers[pair{d.Layer, d.Target}]++
				}
			}
		}
	}
	for p, n := range layers {
		ch <- prometheus.MustNewConstMetric(a.layers, prometheus.GaugeValue, n, p.layer, p.target)
	}
	ch <- prometheus.MustNewConstHistogram(a.estimate, count, sum, buckets)
	p := a.m.counters.Probes()
	ch <- prometheus.MustNewConstMetric(a.probes, prometheus.CounterValue, float64(p.Started), "started")
	ch <- prometheus.MustNewConstMetric(a.probes, prometheus.CounterValue, float64(p.Passed), "passed")
	ch <- prometheus.MustNewConstMetric(a.probes, prometheus.CounterValue, float64(p.Failed), "failed")
}

// Package metrics tells an operator what meetd is doing: Prometheus
// metrics at /metrics and a stats view of rooms and connections.
package metrics

import (
	"net/http"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
)

// Metrics holds meetd's counters and reads its gauges from the rooms and
// its media counters from the SFU.
type Metrics struct {
	rooms    *room.Directory
	counters *sfu.Counters
	// batches reads the counts of the shared media sockets.
	batches  func() sfu.BatchStats
	provider Provider
	reg      *prometheus.Registry

	signalingErrors *prometheus.CounterVec
	iceRestarts     *prometheus.CounterVec
	connections     prometheus.Counter
	open            atomic.Int64

	roomsDesc, participantsDesc, tracksDesc, subscriptionsDesc, packetsInDesc, openDesc *prometheus.Desc
	datagramsDesc, batchesDesc                                                          *prometheus.Desc
	media                                                                               mediaDescs
}

// Provider tells the metrics what rooms do not hold: what the tracks on
// their stages carry, and how their members are connected. internal/client,
// which puts both there, provides it.
type Provider interface {
	// Track describes a track on a stage; false for one it does not know.
	Track(t room.Track) (sfu.TrackStats, bool)
	// Connection is how a member is connected; false for one it does not
	// know.
	Connection(m room.Member) (ConnInfo, bool)
}

// New makes the metrics of a server with these rooms and media counters,
// whose shared media sockets batches counts, and whose rooms' tracks and
// members p describes.
func New(rooms *room.Directory, media *sfu.Counters, batches func() sfu.BatchStats, p Provider) *Metrics {
	m := &Metrics{
		rooms:    rooms,
		counters: media,
		batches:  batches,
		provider: p,
		reg:      prometheus.NewRegistry(),
		signalingErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetd_signaling_errors_total",
			Help: "Error messages sent to clients, by code.",
		}, []string{"code"}),
		iceRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetd_ice_restarts_total",
			Help: "ICE restarts, by connection: publish (asked by the client) or subscribe (made by meetd).",
		}, []string{"target"}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meetd_websocket_connections_total",
			Help: "WebSocket connections accepted.",
		}),
		roomsDesc:         prometheus.NewDesc("meetd_rooms", "Rooms open, by kind.", []string{"kind"}, nil),
		participantsDesc:  prometheus.NewDesc("meetd_participants", "Participants in rooms, by role.", []string{"role"}, nil),
		tracksDesc:        prometheus.NewDesc("meetd_tracks", "Tracks published on stage, by kind.", []string{"kind"}, nil),
		subscriptionsDesc: prometheus.NewDesc("meetd_subscriptions", "Tracks forwarded to subscribers (one per track and subscriber).", nil, nil),
		packetsInDesc:     prometheus.NewDesc("meetd_track_packets", "Packets received on the tracks now published.", nil, nil),
		openDesc:          prometheus.NewDesc("meetd_websocket_connections", "WebSocket connections open.", nil, nil),
		media:             newMediaDescs(),
		datagramsDesc: prometheus.NewDesc("meetd_media_datagrams_batched_total",
			"Media datagrams queued on the shared UDP sockets, by result: sent, or failed (refused by the kernel).", []string{"result"}, nil),
		batchesDesc: prometheus.NewDesc("meetd_media_batches_total", "Batches (sendmmsg calls) sent on the shared UDP sockets.", nil, nil),
	}
	m.reg.MustRegister(m, newAdaptation(m), m.signalingErrors, m.iceRestarts, m.connections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// SignalingError counts an error message sent to a client.
func (m *Metrics) SignalingError(code string) { m.signalingErrors.WithLabelValues(code).Inc() }

// ICERestart counts an ICE restart of a publish or subscribe connection.
func (m *Metrics) ICERestart(target string) { m.iceRestarts.WithLabelValues(target).Inc() }

// ConnectionOpened and ConnectionClosed follow WebSocket connections.
func (m *Metrics) ConnectionOpened() { m.connections.Inc(); m.open.Add(1) }

// ConnectionClosed follows a WebSocket connection going away.
func (m *Metrics) ConnectionClosed() { m.open.Add(-1) }

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.roomsDesc, m.participantsDesc, m.tracksDesc, m.subscriptionsDesc,
		m.packetsInDesc, m.openDesc, m.datagramsDesc, m.batchesDesc} {
		ch <- d
	}
	m.media.describe(ch)
}

// Collect implements prometheus.Collector, reading the rooms as they are.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	rooms := map[string]float64{"broadcast": 0, "meeting": 0}
	roles := map[string]float64{"stage": 0, "audience": 0}
	tracks := map[string]float64{"audio": 0, "video": 0}
	var subscriptions, packets float64
	for _, r := range m.rooms.Rooms() {
		snap := r.Snapshot()
		rooms[snap.Kind.String()]++
		for _, p := range snap.Participants {
			if p.Node == "" { // those of other nodes are theirs to count
				roles[p.Role.String()]++
			}
		}
		for _, p := range snap.Tracks {
			kind := "audio"
			if p.Track.Kind() == webrtc.RTPCodecTypeVideo {
				kind = "video"
			}
			tracks[kind]++
			st, _ := m.provider.Track(p.Track)
			subscriptions += float64(st.Subscribers)
			for _, l := range st.Layers {
				packets += float64(l.Packets)
			}
		}
	}
	for k, v := range rooms {
		ch <- prometheus.MustNewConstMetric(m.roomsDesc, prometheus.GaugeValue, v, k)
	}
	for k, v := range roles {
		ch <- prometheus.MustNewConstMetric(m.participantsDesc, prometheus.GaugeValue, v, k)
	}
	for k, v := range tracks {
		ch <- prometheus.MustNewConstMetric(m.tracksDesc, prometheus.GaugeValue, v, k)
	}
	ch <- prometheus.MustNewConstMetric(m.subscriptionsDesc, prometheus.GaugeValue, subscriptions)
	ch <- prometheus.MustNewConstMetric(m.packetsInDesc, prometheus.GaugeValue, packets)
	ch <- prometheus.MustNewConstMetric(m.openDesc, prometheus.GaugeValue, float64(m.open.Load()))
	m.media.collect(ch, m.counters.Snapshot())
	if m.batches != nil {
		st := m.batches()
		ch <- prometheus.MustNewConstMetric(m.datagramsDesc, prometheus.CounterValue, float64(st.Sent), "sent")
		ch <- prometheus.MustNewConstMetric(m.datagramsDesc, prometheus.CounterValue, float64(st.Failed), "failed")
		ch <- prometheus.MustNewConstMetric(m.batchesDesc, prometheus.CounterValue, float64(st.Batches))
	}
}

package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetd/meetd/internal/sfu"
)

// mediaDescs describe the SFU's media counters.
type mediaDescs struct {
	receivedPackets, receivedBytes, forwardedPackets, forwardedBytes *prometheus.Desc
	dropped, nacked, retransmitted, rtcpIn, plisSent, rtt, lost      *prometheus.Desc
	sendPaths, rtcpRead                                              *prometheus.Desc
	readPaths, readAtSocket, readQueueFull                           *prometheus.Desc
}

func newMediaDescs() mediaDescs {
	kind := []string{"kind"}
	return mediaDescs{
		receivedPackets: prometheus.NewDesc("meetd_rtp_received_packets_total",
			"RTP packets received from publishers, by kind (padding-only packets not counted).", kind, nil),
		receivedBytes: prometheus.NewDesc("meetd_rtp_received_bytes_total",
			"RTP payload bytes received from publishers, by kind.", kind, nil),
		forwardedPackets: prometheus.NewDesc("meetd_rtp_forwarded_packets_total",
			"RTP packets sent to subscribers, by kind (retransmissions not counted).", kind, nil),
		forwardedBytes: prometheus.NewDesc("meetd_rtp_forwarded_bytes_total",
			"RTP payload bytes sent to subscribers, by kind.", kind, nil),
		dropped: prometheus.NewDesc("meetd_rtp_dropped_packets_total",
			"Packets the forwarder did not send a subscriber, by reason: keyframe (the subscriber waits for one to start at), "+
				"write (the subscriber's connection was not ready or failed), malformed (a publisher's packet that did not parse), "+
				"shard (the shard of a large audience's fan-out the subscriber is with was too far behind).",
			[]string{"reason"}, nil),
		nacked: prometheus.NewDesc("meetd_rtp_nacked_packets_total",
			"Packets subscribers reported lost in NACKs.", nil, nil),
		retransmitted: prometheus.NewDesc("meetd_rtp_retransmitted_packets_total",
			"Packets sent to subscribers again after a NACK.", nil, nil),
		rtcpIn: prometheus.NewDesc("meetd_rtcp_received_total",
			"RTCP from subscribers about the streams meetd sends them, by type: pli, fir, nack, rr (one per reception report).",
			[]string{"type"}, nil),
		plisSent: prometheus.NewDesc("meetd_rtcp_pli_sent_total",
			"Keyframe requests (PLI) sent to publishers.", nil, nil),
		rtt: prometheus.NewDesc("meetd_subscriber_rtt_seconds",
			"Round-trip times to subscribers from their receiver reports, by kind of stream reported on.", kind, nil),
		lost: prometheus.NewDesc("meetd_subscriber_fraction_lost",
			"Fraction of packets lost on the way to subscribers, from each receiver report, by kind of stream.", kind, nil),
		sendPaths: prometheus.NewDesc("meetd_subscribe_connections",
			"Connected subscribe connections by how their media goes: shared_socket (meetd encrypts it and queues it on a shared UDP socket), "+
				"ice (meetd encrypts it and writes it through ICE: TCP, or a socket of the connection's own), "+
				"pion (pion's write path, as meetd could not read the SRTP keys).", []string{"path"}, nil),
		rtcpRead: prometheus.NewDesc("meetd_subscriber_rtcp_packets_total",
			"RTCP packets from subscribers by where meetd read them: shared_socket (decrypted where the shared UDP socket is read), "+
				"pion (through pion's SRTCP session: other paths, or before the keys were known), "+
				"dropped (at the shared socket, did not decrypt or parse).", []string{"read"}, nil),
		readPaths: prometheus.NewDesc("meetd_publish_connections",
			"Publish connections by how meetd reads their media: shared_socket (decrypted where the shared UDP socket is read), "+
				"pion (pion's read path: before the connection is up, on other paths, or with -pion-read-path).", []string{"path"}, nil),
		readAtSocket: prometheus.NewDesc("meetd_rtp_read_at_socket_packets_total",
			"RTP packets from publishers decrypted where the shared UDP socket is read (the rest went through pion).", nil, nil),
		readQueueFull: prometheus.NewDesc("meetd_rtp_read_queue_full_packets_total",
			"RTP packets from publishers left to pion because their layer's queue at the shared socket was full (its forwarding fell behind).", nil, nil),
	}
}

func (d *mediaDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.receivedPackets, d.receivedBytes, d.forwardedPackets, d.forwardedBytes,
		d.dropped, d.nacked, d.retransmitted, d.rtcpIn, d.plisSent, d.rtt, d.lost, d.sendPaths, d.rtcpRead,
		d.readPaths, d.readAtSocket, d.readQueueFull} {
		ch <- x
	}
}

func (d *mediaDescs) collect(ch chan<- prometheus.Metric, s sfu.CounterSnapshot) {
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	for i, k := range sfu.Kinds {
		kind := k.String()
		counter(d.receivedPackets, s.Received[i].Packets, kind)
		counter(d.receivedBytes, s.Received[i].Bytes, kind)
		counter(d.forwardedPackets, s.Forwarded[i].Packets, kind)
		counter(d.forwardedBytes, s.Forwarded[i].Bytes, kind)
		ch <- prometheus.MustNewConstHistogram(d.rtt, s.RTT[i].Count, s.RTT[i].Sum, s.RTT[i].Buckets, kind)
		ch <- prometheus.MustNewConstHistogram(d.lost, s.Lost[i].Count, s.Lost[i].Sum, s.Lost[i].Buckets, kind)
	}
	for r, v := range s.Dropped {
		counter(d.dropped, v, sfu.DropReason(r).String())
	}
	for t, v := range s.RTCP {
		counter(d.rtcpIn, v, sfu.RTCPType(t).String())
	}
	counter(d.nacked, s.NACKed)
	counter(d.retransmitted, s.Retransmitted)
	counter(d.plisSent, s.KeyframeRequests)
	for p, v := range s.SendPaths {
		if sfu.SendPath(p) != sfu.SendNone {
			ch <- prometheus.MustNewConstMetric(d.sendPaths, prometheus.GaugeValue, float64(v), sfu.SendPath(p).String())
		}
	}
	for r, v := range s.RTCPRead {
		counter(d.rtcpRead, v, sfu.RTCPRead(r).String())
	}
	for p, v := range s.ReadPaths {
		ch <- prometheus.MustNewConstMetric(d.readPaths, prometheus.GaugeValue, float64(v), sfu.ReadPath(p).String())
	}
	counter(d.readAtSocket, s.ReadAtSocket)
	counter(d.readQueueFull, s.ReadQueueFull)
}

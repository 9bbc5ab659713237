package sfu

import "time"

// TrackStats is a published track as the operator's stats view shows it.
type TrackStats struct {
	ID          string       `json:"id"`
	Kind        string       `json:"kind"`
	Codec       string       `json:"codec"`
	Subscribers int          `json:"subscribers"`
	Layers      []LayerStats `json:"layers"`
}

// LayerStats is one encoding of a published track.
type LayerStats struct {
	RID string `json:"rid,omitempty"`
	// Width and Height are of the last keyframe (VP8 only; 0: unknown).
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	Bitrate uint64 `json:"bitrate"` // bits per second
	Packets uint64 `json:"packets"`
	Paused  bool   `json:"paused,omitempty"`
}

// Stats describes the track and its layers.
func (t *Track) Stats() TrackStats {
	s := TrackStats{ID: t.id, Kind: t.kind.String(), Codec: t.codec.MimeType, Subscribers: t.Subscribers()}
	for _, l := range *t.layers.Load() {
		s.Layers = append(s.Layers, LayerStats{
			RID: l.rid, Width: int(l.width.Load()), Height: int(l.height.Load()),
			Bitrate: l.bitrate.Load(), Packets: l.packets.Load(), Paused: l.paused.Load(),
		})
	}
	return s
}

// DownStats is what a down track sends one subscriber, and how the
// subscriber says it arrives.
type DownStats struct {
	Track string `json:"track"`
	Kind  string `json:"kind"`
	// Layer is the simulcast layer forwarded, Target the one the view and
	// bandwidth estimate ask for ("" when none or without simulcast).
	Layer       string `json:"layer,omitempty"`
	Target      string `json:"target,omitempty"`
	Bitrate     uint64 `json:"bitrate"` // bits per second, of the layer forwarded
	Packets     uint64 `json:"packets"`
	Retransmits uint64 `json:"retransmits"`
	// RTT in milliseconds and the fraction Lost are from the last
	// receiver report, received ReportAge seconds ago; RTT is nil until
	// a report gives one, ReportAge until a report came.
	RTT       *float64 `json:"rtt_ms,omitempty"`
	Lost      float64  `json:"lost"`
	ReportAge *float64 `json:"report_age_s,omitempty"`
}

// Stats describes what d sends.
func (d *DownTrack) Stats() DownStats {
	s := DownStats{
		Track: d.track.id, Kind: d.track.kind.String(), Layer: d.Layer(),
		Bitrate: uint64(d.sendingRate()), Packets: d.packets.Load(), Retransmits: d.retransmits.Load(),
		Lost: float64(d.report.lost.Load()) / 256,
	}
	if d.track.simulcast {
		if l := d.target.Load(); l != nil {
			s.Target = l.rid
		}
	}
	if rtt := d.report.rtt.Load(); rtt >= 0 {
		ms := float64(rtt) / float64(time.Millisecond)
		s.RTT = &ms
	}
	if at := d.report.at.Load(); at != 0 {
		age := float64(time.Now().UnixNano()-at) / float64(time.Second)
		s.ReportAge = &age
	}
	return s
}

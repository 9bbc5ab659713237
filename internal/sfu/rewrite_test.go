package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

// vp8Long is a VP8 payload with a 15-bit picture id and TL0PICIDX.
func vp8Long(pic uint16, tl0 uint8, start, key bool) []byte {
	p := make([]byte, 40)
	p[0] = 0x80
	if start {
		p[0] |= 0x10
	}
	p[1] = 0xc0
	p[2] = 0x80 | byte(pic>>8)
	p[3] = byte(pic)
	p[4] = tl0
	p[5] = 0x11
	if key {
		p[5] = 0x10
		p[8], p[9], p[10] = 0x9d, 0x01, 0x2a
	}
	return p
}

type srcPacket struct {
	seq uint16
	ts  uint32
	pic uint16
	tl0 uint8
	// switchHere starts a new layer at this packet, a keyframe.
	switchHere bool
	at         int64 // nanoseconds
}

func TestRewriterKeepsOneStream(t *testing.T) {
	const frame = int64(1e9) / 30
	for _, tc := range []struct {
		name string
		in   []srcPacket
	}{
		{"one layer kept as is", []srcPacket{
			{seq: 10, ts: 3000, pic: 5, tl0: 1, switchHere: true},
			{seq: 11, ts: 6000, pic: 6, tl0: 2, at: frame},
		}},
		{"switch up", []srcPacket{
			{seq: 100, ts: 9000, pic: 40, tl0: 7, switchHere: true},
			{seq: 101, ts: 12000, pic: 41, tl0: 8, at: frame},
			{seq: 5000, ts: 777000, pic: 9000, tl0: 200, switchHere: true, at: 2 * frame},
			{seq: 5001, ts: 777000, pic: 9000, tl0: 200, at: 2 * frame},
			{seq: 5002, ts: 780000, pic: 9001, tl0: 201, at: 3 * frame},
		}},
		{"wrap-around of every counter", []srcPacket{
			{seq: 65534, ts: 4294964000, pic: 32766, tl0: 254, switchHere: true},
			{seq: 65535, ts: 4294967000, pic: 32767, tl0: 255, at: frame},
			{seq: 3, ts: 10, pic: 2, tl0: 9, switchHere: true, at: 2 * frame},
			{seq: 4, ts: 3010, pic: 3, tl0: 10, at: 3 * frame},
		}},
		{"switch down after a pause", []srcPacket{
			{seq: 7, ts: 1000, pic: 100, tl0: 3, switchHere: true},
			{seq: 60000, ts: 50, pic: 32000, tl0: 0, switchHere: true, at: 2e9},
			{seq: 60001, ts: 3050, pic: 32001, tl0: 1, at: 2e9 + frame},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r rewriter
			buf := make([]byte, maxPacketSize)
			var prev *rtp.Header
			var prevPic uint16
			var prevTL0 uint8
			for i, sp := range tc.in {
				h := rtp.Header{SequenceNumber: sp.seq, Timestamp: sp.ts}
				payload := vp8Long(sp.pic, sp.tl0, true, sp.switchHere)
				orig := append([]byte(nil), payload...)
				d, ok := parseVP8Descriptor(payload)
				if !ok {
					t.Fatal("descriptor")
				}
				if sp.switchHere {
					r.switchTo(&h, payload, d, true, sp.at, 90000)
				}
				out := r.rewrite(&h, payload, d, true, buf, sp.at)
				if string(payload) != string(orig) {
					t.Fatal("the shared payload was changed")
				}
				pic, tl0 := d.pictureID(out), out[d.tl0]
				if i == 0 {
					if h.SequenceNumber != sp.seq || h.Timestamp != sp.ts || pic != sp.pic || tl0 != sp.tl0 {
						t.Errorf("first packet rewritten: %d %d %d %d", h.SequenceNumber, h.Timestamp, pic, tl0)
					}
				} else {
					if h.SequenceNumber != prev.SequenceNumber+1 {
						t.Errorf("packet %d: sequence number %d after %d", i, h.SequenceNumber, prev.SequenceNumber)
					}
					step := int32(h.Timestamp - prev.Timestamp)
					if step < 0 || (sp.switchHere && step < minFrameTicks) {
						t.Errorf("packet %d: timestamp step %d", i, step)
					}
					if sp.switchHere && sp.at >= 1e9 && step < 90000*int32(sp.at/1e9)-minFrameTicks {
						t.Errorf("packet %d: timestamp step %d after a %d ns pause", i, step, sp.at)
					}
					if dp := (pic - prevPic) & picMask; dp > 1 {
						t.Errorf("packet %d: picture id %d after %d", i, pic, prevPic)
					}
					if dt := tl0 - prevTL0; dt > 1 {
						t.Errorf("packet %d: TL0PICIDX %d after %d", i, tl0, prevTL0)
					}
				}
				hc := h
				prev, prevPic, prevTL0 = &hc, pic, tl0
			}
		})
	}
}

func TestVP8KeyframeSize(t *testing.T) {
	p := vp8Long(1, 1, true, true)
	p[11], p[12], p[13], p[14] = 0x80, 0x02, 0x68, 0x01 // 640×360
	w, h, ok := vp8KeyframeSize(p)
	if !ok || w != 640 || h != 360 {
		t.Errorf("size %d×%d %v, want 640×360", w, h, ok)
	}
	if _, _, ok := vp8KeyframeSize(vp8Long(1, 1, true, false)); ok {
		t.Error("an interframe has a size")
	}
}

// newSimulcastTrack is a VP8 track of three layers, q, h and f, with no
// peer connection.
func newSimulcastTrack() *Track {
	t := newTestTrack()
	t.simulcast = true
	var ls []*layer
	for i, rid := range []string{"q", "h", "f"} {
		ls = append(ls, &layer{rid: rid, rank: i, cache: &packetCache{}})
	}
	t.layers.Store(&ls)
	return t
}

func simulcastPacket(seq uint16, pic uint16, key bool) []byte {
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 1},
		Payload: vp8Long(pic, uint8(pic), true, key),
	}
	b, _ := p.Marshal()
	return b
}

func TestSimulcastDownTrackSwitchesAtKeyframe(t *testing.T) {
	tr := newSimulcastTrack()
	ls := *tr.layers.Load()
	rec := &recorder{}
	d := subscribe(tr, 1, 96, rec)
	var pkt rtp.Packet
	seal := new(sealBuf)
	// The largest layer by default.
	tr.forward(ls[0], simulcastPacket(500, 10, true), &pkt, seal)
	tr.forward(ls[2], simulcastPacket(9000, 700, true), &pkt, seal)
	tr.forward(ls[2], simulcastPacket(9001, 701, false), &pkt, seal)
	d.SetView(View{Width: 320, Height: 180})
	// The small layer's interframes wait for its keyframe; the big layer
	// goes on meanwhile.
	tr.forward(ls[0], simulcastPacket(501, 11, false), &pkt, seal)
	tr.forward(ls[2], simulcastPacket(9002, 702, false), &pkt, seal)
	tr.forward(ls[0], simulcastPacket(502, 12, true), &pkt, seal)
	tr.forward(ls[2], simulcastPacket(9003, 703, false), &pkt, seal)
	tr.forward(ls[0], simulcastPacket(503, 13, false), &pkt, seal)
	got := rec.packets()
	wantPics := []uint16{700, 701, 702, 703, 704}
	if len(got) != len(wantPics) {
		t.Fatalf("got %d packets, want %d", len(got), len(wantPics))
	}
	for i, p := range got {
		d, _ := parseVP8Descriptor(p.Payload)
		if p.SequenceNumber != 9000+uint16(i) || d.pictureID(p.Payload) != wantPics[i] {
			t.Errorf("packet %d: seq %d picture id %d", i, p.SequenceNumber, d.pictureID(p.Payload))
		}
	}
	if d.Layer() != "q" {
		t.Errorf("layer %q, want q", d.Layer())
	}
}

func TestSimulcastForwardAllocatesNothing(t *testing.T) {
	tr := newSimulcastTrack()
	ls := *tr.layers.Load()
	for i := range 10 {
		d := subscribe(tr, uint32(i+1), 96, discard{})
		d.SetView(View{Width: 320, Height: 180})
	}
	var pkt rtp.Packet
	seal := new(sealBuf)
	tr.forward(ls[0], simulcastPacket(1, 1, true), &pkt, seal)
	inter := simulcastPacket(2, 2, false)
	if n := testing.AllocsPerRun(100, func() { tr.forward(ls[0], inter, &pkt, seal) }); n != 0 {
		t.Errorf("forward allocates %.1f times per packet", n)
	}
}

// BenchmarkForwardSimulcast is BenchmarkForward for the layer subscribers
// take of a three-layer track, after a switch, so that every packet's
// picture id is rewritten in a copy.
func BenchmarkForwardSimulcast(b *testing.B) {
	const n = 100
	tr := newSimulcastTrack()
	ls := *tr.layers.Load()
	for i := range n {
		subscribe(tr, uint32(i+1), 96, discard{})
	}
	var pkt rtp.Packet
	seal := new(sealBuf)
	tr.forward(ls[2], simulcastPacket(1, 1, true), &pkt, seal)
	for _, d := range *tr.downs.Load() {
		d.SetView(View{Width: 320, Height: 180})
	}
	tr.forward(ls[0], simulcastPacket(900, 5000, true), &pkt, seal)
	inter := simulcastPacket(901, 5001, false)
	b.ReportAllocs()
	for b.Loop() {
		tr.forward(ls[0], inter, &pkt, seal)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscriber")
}

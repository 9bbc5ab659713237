package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestMetricsAndStats(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{AdminPassword: "ops"})
	base := "http://" + m.Addr()
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	pub := goLive(t, ctx, url, "show", testclient.Options{Name: "Sam"})
	defer pub.Close()
	joinAudience(t, ctx, url, "show", 2)
	bad := dialRaw(t, ctx, url, nil)
	bad.send(ctx, `nonsense`)
	bad.expectError(ctx, signal.CodeBadMessage)

	_, text := get(t, base+"/metrics", nil)
	for _, want := range []string{
		`meetd_rooms{kind="broadcast"} 1`,
		`meetd_participants{role="audience"} 2`,
		`meetd_participants{role="stage"} 1`,
		`meetd_tracks{kind="video"} 1`,
		`meetd_tracks{kind="audio"} 1`,
		`meetd_subscriptions 4`,
		`meetd_signaling_errors_total{code="bad_message"} 1`,
		`meetd_websocket_connections 4`,
		`meetd_media_datagrams_batched_total{result="failed"} 0`,
		`meetd_media_batches_total`,
		`meetd_subscriber_rtcp_packets_total{read="dropped"} 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}

	// The viewers' media goes out on the shared UDP socket, encrypted by
	// meetd, and no connection fell back to pion's write path; all of it
	// through pion's with the fast egress off.
	values := scrape(t, base)
	paths := map[string]float64{"shared_socket": 2, "ice": 0, "pion": 0}
	if !fastEgress {
		paths = map[string]float64{"shared_socket": 0, "ice": 0, "pion": 2}
	}
	for path, want := range paths {
		if got := values[`meetd_subscribe_connections{path="`+path+`"}`]; got != want {
			t.Errorf("subscribe connections sending by %s: %v, want %v", path, got, want)
		}
	}
	// The streamer's media is read at the shared socket too.
	readBy := map[string]float64{"shared_socket": 1, "pion": 0}
	if pionReads() {
		readBy = map[string]float64{"shared_socket": 0, "pion": 1}
	}
	for path, want := range readBy {
		if got := values[`meetd_publish_connections{path="`+path+`"}`]; got != want {
			t.Errorf("publish connections read by %s: %v, want %v", path, got, want)
		}
	}
	if got := values["meetd_rtp_read_at_socket_packets_total"]; (got == 0) != pionReads() {
		t.Errorf("%v RTP packets read at the socket", got)
	}

	// The stats view: open from this machine, behind a password for others.
	code, body := get(t, base+"/admin/stats?format=json", nil)
	if code != http.StatusOK {
		t.Fatalf("stats from loopback: %d", code)
	}
	var stats struct{ Rooms []metrics.RoomStats }
	if err := json.Unmarshal([]byte(body), &stats); err != nil {
		t.Fatal(err)
	}
	if len(stats.Rooms) != 1 || len(stats.Rooms[0].Participants) != 3 {
		t.Fatalf("stats: %+v", stats)
	}
	sam := stats.Rooms[0].Participants[0]
	if sam.Name != "Sam" || !sam.Host || !strings.HasPrefix(sam.Publish, "udp host 127.0.0.1:") {
		t.Errorf("the streamer in the stats: %+v", sam)
	}
	if p := stats.Rooms[0].Participants[1]; !strings.HasPrefix(p.Subscribe, "udp host") || p.Remote == "" {
		t.Errorf("a viewer in the stats: %+v", p)
	}
	proxied := http.Header{"X-Forwarded-For": []string{"198.51.100.7"}}
	if code, _ := get(t, base+"/admin/stats", proxied); code != http.StatusUnauthorized {
		t.Errorf("stats through a proxy without the password: %d", code)
	}
	req := http.Header{"X-Forwarded-For": []string{"198.51.100.7"}}
	req.Set("Authorization", "Basic YWRtaW46b3Bz") // admin:ops
	if code, page := get(t, base+"/admin/stats", req); code != http.StatusOK || !strings.Contains(page, "Sam") {
		t.Errorf("stats with the password: %d", code)
	}
}

// scrape reads /metrics into values by series, as printed: name and labels.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	_, text := get(t, base+"/metrics", nil)
	values := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		values[line[:i]] = v
	}
	return values
}

func TestMetricsOfTheMediaPath(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	base := "http://" + m.Addr()
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pub := goLive(t, ctx, url, "show", testclient.Options{Name: "Sam"})
	defer pub.Close()
	viewers := joinAudience(t, ctx, url, "show", 2)

	// Receiver reports come once a second, after meetd's sender reports.
	const (
		video, audio = `{kind="video"}`, `{kind="audio"}`
		rttCount     = "meetd_subscriber_rtt_seconds_count" + video
	)
	waitUntil(t, ctx, "round trips of both viewers", func() bool { return scrape(t, base)[rttCount] >= 2 })

	// Every packet received goes to both viewers. Each track's read loop
	// adds up its counts once a second, both counts at once, each on its
	// own clock: wait for both tracks to have added some.
	a := scrape(t, base)
	var b map[string]float64
	waitUntil(t, ctx, "2 s of media", func() bool {
		b = scrape(t, base)
		added := func(kind string) float64 {
			return b["meetd_rtp_received_packets_total"+kind] - a["meetd_rtp_received_packets_total"+kind]
		}
		return added(video) >= 60 && added(audio) > 0
	})
	for _, kind := range []string{video, audio} {
		in := b["meetd_rtp_received_packets_total"+kind] - a["meetd_rtp_received_packets_total"+kind]
		out := b["meetd_rtp_forwarded_packets_total"+kind] - a["meetd_rtp_forwarded_packets_total"+kind]
		inBytes := b["meetd_rtp_received_bytes_total"+kind] - a["meetd_rtp_received_bytes_total"+kind]
		outBytes := b["meetd_rtp_forwarded_bytes_total"+kind] - a["meetd_rtp_forwarded_bytes_total"+kind]
		if in <= 0 || out < 1.9*in || out > 2*in {
			t.Errorf("%s: %.0f packets received, %.0f forwarded to 2 viewers", kind, in, out)
		}
		if inBytes <= 0 || outBytes < 1.9*inBytes || outBytes > 2*inBytes {
			t.Errorf("%s: %.0f bytes received, %.0f forwarded to 2 viewers", kind, inBytes, outBytes)
		}
	}
	rtt := b["meetd_subscriber_rtt_seconds_sum"+video] / b[rttCount]
	if rtt <= 0 || rtt > 0.1 {
		t.Errorf("mean round trip on loopback %.4f s", rtt)
	}
	if n := b["meetd_subscriber_fraction_lost_count"+video]; n < 2 || b["meetd_subscriber_fraction_lost_sum"+video]/n > 0.05 {
		t.Errorf("loss on loopback: %v reports, sum %v", n, b["meetd_subscriber_fraction_lost_sum"+video])
	}
	if b[`meetd_rtcp_received_total{type="rr"}`] < b[rttCount] {
		t.Errorf("%v receiver reports counted, %v round trips", b[`meetd_rtcp_received_total{type="rr"}`], b[rttCount])
	}
	// Whether a viewer waits for a keyframe depends on timing (the unit
	// tests count drops); here the series must be there.
	for _, reason := range []string{"keyframe", "write", "malformed"} {
		if _, ok := b[`meetd_rtp_dropped_packets_total{reason="`+reason+`"}`]; !ok {
			t.Errorf("no drops counted for %s", reason)
		}
	}

	// A viewer joining asks the publisher for a keyframe.
	plis := b["meetd_rtcp_pli_sent_total"]
	if plis < 1 {
		t.Errorf("%v keyframe requests sent for two viewers", plis)
	}
	late := dial(t, ctx, url, testclient.Options{})
	defer late.Close()
	join(t, ctx, late, "show", signal.RoleAudience)
	waitMedia(t, ctx, "late viewer", late)
	waitUntil(t, ctx, "a keyframe request for the late viewer", func() bool {
		return scrape(t, base)["meetd_rtcp_pli_sent_total"] > plis
	})

	// A viewer's PLI and NACK are counted, and the NACKed packets sent again.
	st := viewers[0].Stats(webrtc.RTPCodecTypeVideo)
	lost := []uint16{st.LastSeq - 3, st.LastSeq - 2, st.LastSeq - 1}
	if err := viewers[0].SendRTCP(
		&rtcp.PictureLossIndication{MediaSSRC: st.SSRC},
		&rtcp.TransportLayerNack{MediaSSRC: st.SSRC, Nacks: rtcp.NackPairsFromSequenceNumbers(lost)},
	); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "a viewer's PLI and NACK", func() bool {
		v := scrape(t, base)
		return v[`meetd_rtcp_received_total{type="pli"}`] >= 1 && v[`meetd_rtcp_received_total{type="nack"}`] >= 1 &&
			v["meetd_rtp_nacked_packets_total"] >= 3 && v["meetd_rtp_retransmitted_packets_total"] >= 3
	})

	// The stats view shows each viewer's round trip and loss, and the
	// streamer's tracks.
	_, body := get(t, base+"/admin/stats?format=json", nil)
	var stats struct{ Rooms []metrics.RoomStats }
	if err := json.Unmarshal([]byte(body), &stats); err != nil {
		t.Fatal(err)
	}
	if len(stats.Rooms) != 1 || len(stats.Rooms[0].Participants) != 4 {
		t.Fatalf("stats: %+v", stats)
	}
	sam := stats.Rooms[0].Participants[0]
	if len(sam.Publishing) != 2 || len(sam.Receiving) != 0 {
		t.Fatalf("the streamer's media in the stats: %+v", sam)
	}
	for _, tr := range sam.Publishing {
		if tr.Subscribers != 3 || len(tr.Layers) != 1 || tr.Layers[0].Bitrate == 0 || tr.Layers[0].Packets == 0 {
			t.Errorf("published track in the stats: %+v", tr)
		}
	}
	for _, p := range stats.Rooms[0].Participants[1:3] {
		if len(p.Receiving) != 2 {
			t.Fatalf("a viewer's media in the stats: %+v", p)
		}
		for _, d := range p.Receiving {
			if d.Packets == 0 || d.Bitrate == 0 || d.RTT == nil || *d.RTT > 100 || d.Lost > 0.05 {
				t.Errorf("%s's %s in the stats: %+v", p.ID, d.Kind, d)
			}
		}
	}
	if _, page := get(t, base+"/admin/stats", nil); !strings.Contains(page, "rtt ") || !strings.Contains(page, "kbit/s") {
		t.Error("the stats page shows no round trip or bitrate")
	}
}

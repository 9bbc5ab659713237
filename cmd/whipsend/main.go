// Command whipsend publishes a short test clip (VP8 video, Opus audio, in
// a loop) to a WHIP endpoint, the way OBS would. It is for trying and
// testing meetd's WHIP ingest without a camera or an encoder:
//
//	go run ./cmd/whipsend -url http://localhost:8080/whip/default
//
// The clip (testdata/) is built in; -video and -audio play other IVF and
// Ogg/Opus files. On Ctrl-C or SIGTERM it ends the session with DELETE.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

var (
	//go:embed testdata/whip.ivf
	clipVideo []byte
	//go:embed testdata/whip.ogg
	clipAudio []byte
)

func main() {
	endpoint := flag.String("url", "http://localhost:8080/whip/default", "WHIP endpoint")
	token := flag.String("token", "", "bearer token (an invitation token, or the room's stage password)")
	videoFile := flag.String("video", "", "VP8 IVF file to send instead of the built-in clip")
	audioFile := flag.String("audio", "", "Ogg/Opus file to send instead of the built-in clip")
	loopback := flag.Bool("loopback", false, "offer only 127.0.0.1 candidates (meetd on this machine, no other network)")
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	if err := run(*endpoint, *token, *videoFile, *audioFile, *loopback, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "whipsend:", err)
		os.Exit(1)
	}
}

func run(endpoint, token, videoFile, audioFile string, loopback bool, duration time.Duration) error {
	video, audio := clipVideo, clipAudio
	var err error
	if videoFile != "" {
		if video, err = os.ReadFile(videoFile); err != nil {
			return err
		}
	}
	if audioFile != "" {
		if audio, err = os.ReadFile(audioFile); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}

	s := webrtc.SettingEngine{}
	if loopback {
		s.SetIncludeLoopbackCandidate(true)
		s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(s))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close()
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "whipsend")
	if err != nil {
		return err
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "whipsend")
	if err != nil {
		return err
	}
	for _, t := range []webrtc.TrackLocal{vt, at} {
		if _, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
	}
	connected := make(chan struct{})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		fmt.Println("connection:", st)
		if st == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			stop()
		}
	})

	// WHIP: one offer with every candidate, the answer in the response.
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	answer, location, err := post(ctx, endpoint, token, pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	fmt.Println("publishing; session", location)
	defer remove(location, token)

	select {
	case <-connected:
	case <-ctx.Done():
		return nil
	}
	errs := make(chan error, 2)
	go func() { errs <- sendVideo(ctx, vt, video) }()
	go func() { errs <- sendAudio(ctx, at, audio) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

func post(ctx context.Context, endpoint, token, offer string) (answer, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", "", err
	}
	if res.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(string(body)))
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return "", "", err
	}
	loc, err := base.Parse(res.Header.Get("Location"))
	if err != nil {
		return "", "", err
	}
	return string(body), loc.String(), nil
}

// remove ends the session.
func remove(location, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location, nil)
	if err != nil {
		return
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
}

// sendVideo sends the IVF file's frames at its frame rate, over and over.
func sendVideo(ctx context.Context, t *webrtc.TrackLocalStaticSample, file []byte) error {
	for {
		r, header, err := ivfreader.NewWith(bytes.NewReader(file))
		if err != nil {
			return fmt.Errorf("video: %w", err)
		}
		if header.FourCC != "VP80" {
			return fmt.Errorf("video: the IVF file holds %q, not VP8", header.FourCC)
		}
		frame := time.Second * time.Duration(header.TimebaseNumerator) / time.Duration(header.TimebaseDenominator)
		tick := time.NewTicker(frame)
		for {
			data, _, err := r.ParseNextFrame()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tick.Stop()
				return fmt.Errorf("video: %w", err)
			}
			select {
			case <-ctx.Done():
				tick.Stop()
				return nil
			case <-tick.C:
			}
			if err := t.WriteSample(media.Sample{Data: data, Duration: frame}); err != nil {
				tick.Stop()
				return err
			}
		}
		tick.Stop()
	}
}

// sendAudio sends the Ogg file's Opus pages in real time, over and over.
func sendAudio(ctx context.Context, t *webrtc.TrackLocalStaticSample, file []byte) error {
	for {
		r, _, err := oggreader.NewWith(bytes.NewReader(file))
		if err != nil {
			return fmt.Errorf("audio: %w", err)
		}
		var last uint64
		next := time.Now()
		for {
			page, header, err := r.ParseNextPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("audio: %w", err)
			}
			if header.GranulePosition <= last {
				continue // the header pages
			}
			// Granule positions count 48 kHz samples.
			d := time.Duration(header.GranulePosition-last) * time.Second / 48000
			last = header.GranulePosition
			next = next.Add(d)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Until(next)):
			}
			if err := t.WriteSample(media.Sample{Data: page, Duration: d}); err != nil {
				return err
			}
		}
	}
}

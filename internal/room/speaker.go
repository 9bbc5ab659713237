package room

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Active speaker detection reads the loudest audio level (RFC 6464: 0 is
// the loudest, 127 silence) each stage member sent in the last interval.
const (
	speakerInterval = 300 * time.Millisecond
	// speechLevel is the quietest level taken for speech (-60 dBov).
	speechLevel = 60
	// speakerMargin is how much louder (dB) someone must be to take over
	// from a speaker who is still talking.
	speakerMargin = 6
	// quietHold is how many quiet intervals pass before nobody speaks.
	quietHold = 5
)

func (r *Room) detectSpeakers() {
	t := time.NewTicker(speakerInterval)
	defer t.Stop()
	quiet := 0
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		cur := r.speaker
		var audio []Published
		for id, e := range r.members {
			for _, tr := range e.tracks {
				if tr.Kind() == webrtc.RTPCodecTypeAudio {
					audio = append(audio, Published{Publisher: id, Track: tr})
				}
			}
		}
		r.mu.Unlock()
		if len(audio) == 0 {
			continue
		}
		best, bestLevel, curLevel := "", 128, 128
		for _, p := range audio {
			level := int(p.Track.TakeAudioLevel())
			if level < bestLevel {
				best, bestLevel = p.Publisher, level
			}
			if p.Publisher == cur && level < curLevel {
				curLevel = level
			}
		}
		next := cur
		switch {
		case bestLevel <= speechLevel:
			quiet = 0
			if cur == "" || curLevel > speechLevel || bestLevel+speakerMargin <= curLevel {
				next = best
			}
		default:
			quiet++
			if quiet >= quietHold {
				next = ""
			}
		}
		if next == cur {
			continue
		}
		r.mu.Lock()
		changed := r.speaker == cur
		if changed {
			r.changedLocked()
			r.speaker = next
		}
		r.mu.Unlock()
		if changed {
			r.log.Debug("active speaker", "participant", next, "level", bestLevel)
			r.notify()
		}
	}
}

package sfu

import "testing"

func TestVP8Keyframe(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"keyframe, short descriptor", []byte{0x10, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"interframe", []byte{0x10, 0x01}, false},
		{"not a frame start", []byte{0x00, 0x00}, false},
		{"partition 1", []byte{0x11, 0x00}, false},
		// X, I with a 15-bit picture id, then the payload header.
		{"keyframe with picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"interframe with picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x01}, false},
		// X with I (7-bit id), L and T.
		{"keyframe with all extensions", []byte{0x90, 0xe0, 0x05, 0x07, 0x40, 0x00}, true},
		{"truncated", []byte{0x90, 0x80}, false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := isVP8Keyframe(tt.payload); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestH264Keyframe(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"SPS", []byte{0x67, 0x42}, true},
		{"IDR", []byte{0x65, 0x88}, true},
		{"non-IDR slice", []byte{0x41, 0x9a}, false},
		{"STAP-A with SPS and PPS", []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"STAP-A without", []byte{0x78, 0x00, 0x02, 0x41, 0x42}, false},
		{"STAP-A truncated", []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"FU-A IDR start", []byte{0x7c, 0x85, 0x00}, true},
		{"FU-A IDR middle", []byte{0x7c, 0x05, 0x00}, false},
		{"FU-A non-IDR start", []byte{0x7c, 0x81, 0x00}, false},
	}
	for _, tt := range tests {
		if got := isH264Keyframe(tt.payload); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSameH264Profile(t *testing.T) {
	cb := "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
	if !sameH264Profile(cb, "packetization-mode=1;profile-level-id=42001f") {
		t.Error("baseline and constrained baseline differ")
	}
	if sameH264Profile(cb, "packetization-mode=0;profile-level-id=42e01f") {
		t.Error("packetization modes 1 and 0 match")
	}
	if sameH264Profile(cb, "packetization-mode=1;profile-level-id=640c1f") {
		t.Error("baseline and high match")
	}
}

func FuzzKeyframe(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x05, 0x07, 0x40, 0x00})
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42})
	f.Add([]byte{0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	f.Fuzz(func(t *testing.T, p []byte) {
		isVP8Keyframe(p)
		isH264Keyframe(p)
		vp8KeyframeSize(p)
		// What the simulcast rewriter does to a publisher's payload.
		if d, ok := parseVP8Descriptor(p); ok && d.picture > 0 {
			q := append([]byte(nil), p...)
			id := d.pictureID(q) + 1
			d.setPictureID(q, id)
			if got := d.pictureID(q); d.long && got != id&0x7fff || !d.long && got != id&0x7f {
				t.Fatalf("picture id %d written, %d read", id, got)
			}
		}
	})
}

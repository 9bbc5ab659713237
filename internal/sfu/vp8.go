package sfu

// vp8Descriptor locates the fields of a VP8 payload descriptor (RFC 7741
// section 4.2) that meetd rewrites when it switches a subscriber between
// simulcast layers, whose picture ids count independently.
type vp8Descriptor struct {
	// picture is the offset of the picture id, 0 when there is none; long
	// is set for a 15-bit picture id.
	picture int
	long    bool
	// tl0 is the offset of TL0PICIDX, 0 when there is none.
	tl0 int
	// size is the length of the descriptor.
	size int
}

// parseVP8Descriptor reads the descriptor at the start of p.
func parseVP8Descriptor(p []byte) (vp8Descriptor, bool) {
	var d vp8Descriptor
	if len(p) < 1 {
		return d, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extended control bits
		if len(p) < 2 {
			return d, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id
			if len(p) < i+1 {
				return d, false
			}
			d.picture = i
			if p[i]&0x80 != 0 { // M: 15-bit picture id
				d.long = true
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			d.tl0 = i
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	if len(p) < i {
		return vp8Descriptor{}, false
	}
	d.size = i
	return d, true
}

// pictureID is the packet's picture id (15 bits wide or 7).
func (d vp8Descriptor) pictureID(p []byte) uint16 {
	if d.long {
		return uint16(p[d.picture]&0x7f)<<8 | uint16(p[d.picture+1])
	}
	return uint16(p[d.picture] & 0x7f)
}

func (d vp8Descriptor) setPictureID(p []byte, id uint16) {
	if d.long {
		p[d.picture] = 0x80 | byte(id>>8)&0x7f
		p[d.picture+1] = byte(id)
		return
	}
	p[d.picture] = byte(id) & 0x7f
}

// vp8KeyframeSize reads the picture size from the first packet of a VP8
// keyframe (RFC 6386 section 9.1); ok is false for other packets.
func vp8KeyframeSize(p []byte) (width, height int, ok bool) {
	if !isVP8Keyframe(p) {
		return 0, 0, false
	}
	d, _ := parseVP8Descriptor(p)
	f := p[d.size:]
	// Three bytes of frame tag, the start code, then 14-bit sizes.
	if len(f) < 10 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	width = int(uint16(f[6])|uint16(f[7])<<8) & 0x3fff
	height = int(uint16(f[8])|uint16(f[9])<<8) & 0x3fff
	return width, height, width > 0 && height > 0
}

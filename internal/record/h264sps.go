package record

// spsSize reads the picture size from an H.264 sequence parameter set
// (ITU-T H.264, 7.3.2.1.1), its NAL header first: the coded size less the
// cropping. ok is false for one it cannot read.
func spsSize(sps []byte) (width, height int, ok bool) {
	if len(sps) < 4 {
		return 0, 0, false
	}
	r := &bitReader{b: unescapeRBSP(sps[1:])}
	profile := r.bits(8)
	r.bits(16) // constraint flags, level
	r.ue()     // seq_parameter_set_id
	chroma := uint(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		if chroma = r.ue(); chroma == 3 {
			r.bits(1) // separate_colour_plane_flag
		}
		r.ue()              // bit_depth_luma_minus8
		r.ue()              // bit_depth_chroma_minus8
		r.bits(1)           // qpprime_y_zero_transform_bypass_flag
		if r.bits(1) == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bits(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					last, next := 8, 8
					for range size {
						if next != 0 {
							next = (last + r.se() + 256) % 256
						}
						if next != 0 {
							last = next
						}
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bits(1) // delta_pic_order_always_zero_flag
		r.se()
		r.se()
		for range r.ue() {
			r.se()
		}
	}
	r.ue()    // max_num_ref_frames
	r.bits(1) // gaps_in_frame_num_value_allowed_flag
	mbW := int(r.ue()) + 1
	mbH := int(r.ue()) + 1
	frameMbsOnly := int(r.bits(1))
	if frameMbsOnly == 0 {
		r.bits(1) // mb_adaptive_frame_field_flag
	}
	r.bits(1) // direct_8x8_inference_flag
	width, height = mbW*16, (2-frameMbsOnly)*mbH*16
	if r.bits(1) == 1 { // frame_cropping_flag
		left, right, top, bottom := int(r.ue()), int(r.ue()), int(r.ue()), int(r.ue())
		cropX, cropY := 1, 2-frameMbsOnly
		if chroma == 1 || chroma == 2 {
			cropX = 2
		}
		if chroma == 1 {
			cropY *= 2
		}
		width -= (left + right) * cropX
		height -= (top + bottom) * cropY
	}
	if r.overrun || width <= 0 || height <= 0 || width > 16384 || height > 16384 {
		return 0, 0, false
	}
	return width, height, true
}

// unescapeRBSP takes the emulation prevention bytes (00 00 03) out of a
// NAL unit's payload.
func unescapeRBSP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// bitReader reads an RBSP bit by bit; past its end it reads zeros and
// says so in overrun.
type bitReader struct {
	b       []byte
	pos     int // in bits
	overrun bool
}

func (r *bitReader) bits(n int) uint {
	var v uint
	for range n {
		if r.pos >= len(r.b)*8 {
			r.overrun = true
			return v << 1
		}
		v = v<<1 | uint(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

// ue reads an unsigned Exp-Golomb code.
func (r *bitReader) ue() uint {
	zeros := 0
	for r.bits(1) == 0 {
		if zeros++; zeros > 31 || r.overrun {
			r.overrun = true
			return 0
		}
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

// se reads a signed Exp-Golomb code.
func (r *bitReader) se() int {
	k := r.ue()
	if k%2 == 1 {
		return int(k+1) / 2
	}
	return -int(k / 2)
}

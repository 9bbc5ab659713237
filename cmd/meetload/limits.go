package main

import (
	"crypto/rand"
	"fmt"
	"time"
)

// The limits are what the kernel alone costs per datagram on this machine,
// in a hot loop (no encryption, caches warm, nothing but sending): one
// sendto per datagram, sendmmsg with meetd's batches, and UDP generic
// segmentation offload (UDP_SEGMENT), which sends many datagrams to one
// address in one call. Beside the floor they say how much of it is the
// kernel, and what a different way of sending could at best save.

// limits is the tool's measurement of them, in CPU microseconds of the
// sending thread per datagram.
type limits struct {
	Bytes        int     `json:"datagram_bytes"`
	Destinations int     `json:"destinations"`
	SendtoUs     float64 `json:"sendto_us"`
	Batch        int     `json:"sendmmsg_batch"`
	SendmmsgUs   float64 `json:"sendmmsg_us"`
	GSOSegments  int     `json:"gso_segments"`
	GSOUs        float64 `json:"gso_us"`
	Error        string  `json:"error,omitempty"`
}

// The limits' datagrams are W1's video packets as SRTP sends them, to as
// many sockets as a sendmmsg batch holds.
const (
	limitBytes        = videoPacketBytes + srtpTagSize
	limitDestinations = sendBatch
	// limitRound is how many datagrams a round sends, hot, before the
	// receivers catch up: 64 to each socket, which its buffer holds.
	limitRound  = limitDestinations * sendBatch
	limitRounds = 25
)

// gsoSegments is how many datagrams of size bytes one UDP_SEGMENT send
// carries: the kernel takes at most 64 (UDP_MAX_SEGMENTS on older
// kernels), in one UDP datagram's 65,507 bytes.
func gsoSegments(size int) int { return max(1, min(64, 65507/size)) }

// measureLimits measures the limits on cpu (-1: any), each over rounds
// rounds. A figure that could not be had is 0, and Error says why.
func measureLimits(cpu, rounds int) limits {
	l := limits{Bytes: limitBytes, Destinations: limitDestinations, Batch: sendBatch, GSOSegments: gsoSegments(limitBytes)}
	err := onPinnedThread(cpu, func() error {
		sk, err := newSinks(limitDestinations)
		if err != nil {
			return err
		}
		defer sk.close()
		snd, err := newUDPSender()
		if err != nil {
			return err
		}
		defer snd.close()
		var errs []error
		for _, m := range []struct {
			name string
			us   *float64
			send func(*udpSender, *sinks, []byte) (int, error)
		}{
			{"sendto", &l.SendtoUs, roundSendto},
			{"sendmmsg", &l.SendmmsgUs, roundSendmmsg},
			{"UDP GSO", &l.GSOUs, roundGSO},
		} {
			us, err := hotLoop(snd, sk, rounds, m.send)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
				continue
			}
			*m.us = round(us, 3)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%v", errs)
		}
		return nil
	})
	if err != nil {
		l.Error = err.Error()
	}
	return l
}

// hotLoop is the CPU microseconds per datagram of send's rounds: each
// round sent hot, then the receivers let catch up, out of the
// measurement. One more round first warms up and is not counted.
func hotLoop(snd *udpSender, sk *sinks, rounds int, send func(*udpSender, *sinks, []byte) (int, error)) (float64, error) {
	b := make([]byte, limitBytes*gsoSegments(limitBytes))
	_, _ = rand.Read(b)
	var spent time.Duration
	var sent int64
	base := sk.got.Load()
	for i := range rounds + 1 {
		before, err := threadCPU()
		if err != nil {
			return 0, err
		}
		n, err := send(snd, sk, b)
		if err != nil {
			return 0, err
		}
		after, err := threadCPU()
		if err != nil {
			return 0, err
		}
		want := base + int64(n)
		if got := sk.waitFor(want, 5*time.Second); got < want {
			return 0, fmt.Errorf("the receivers got %d of %d datagrams", got-base, n)
		}
		base = want
		if i > 0 {
			spent += after - before
			sent += int64(n)
		}
	}
	return perDatagram(spent, sent)
}

// perDatagram is spent CPU time over sent datagrams, in microseconds.
func perDatagram(spent time.Duration, sent int64) (float64, error) {
	if sent <= 0 || spent <= 0 {
		return 0, fmt.Errorf("%d datagrams in %v of CPU time: the measurement is not sound", sent, spent)
	}
	return float64(spent) / float64(time.Microsecond) / float64(sent), nil
}

// roundSendto sends a round with one sendto per datagram, to the sinks in
// turn.
func roundSendto(snd *udpSender, sk *sinks, b []byte) (int, error) {
	for i := range limitRound {
		if err := snd.sendto(b[:limitBytes], &sk.addrs[i%len(sk.addrs)]); err != nil {
			return i, err
		}
	}
	return limitRound, nil
}

// roundSendmmsg sends a round in batches of sendBatch, each to every sink.
func roundSendmmsg(snd *udpSender, sk *sinks, b []byte) (int, error) {
	for i := 0; i < limitRound; i += sendBatch {
		for k := range sendBatch {
			snd.setMsg(k, b[:limitBytes], &sk.addrs[(i+k)%len(sk.addrs)])
		}
		if err := snd.sendmmsg(sendBatch); err != nil {
			return i, err
		}
	}
	return limitRound, nil
}

// roundGSO sends a round with one UDP_SEGMENT send per sink, each carrying
// as many datagrams as one call takes.
func roundGSO(snd *udpSender, sk *sinks, b []byte) (int, error) {
	segs := gsoSegments(limitBytes)
	n := 0
	for k := range limitDestinations {
		if err := snd.sendGSO(b[:segs*limitBytes], limitBytes, &sk.addrs[k%len(sk.addrs)]); err != nil {
			return n, err
		}
		n += segs
	}
	return n, nil
}

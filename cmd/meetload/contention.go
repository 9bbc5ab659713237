package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The machine a run measures on may be shared. What other processes did
// on the server's core during the window is reported beside the figures
// (others_on_server_core): a freeze or a latency spike that coincides
// with a core taken by other work is not the server's own.

// coreTimes is a core's time from /proc/stat: busy (user, nice, system,
// irq, softirq) and stolen by the hypervisor.
type coreTimes struct {
	busy, steal time.Duration
}

// readCoreTimes reads core cpu's times from /proc/stat.
func readCoreTimes(cpu int) (coreTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return coreTimes{}, err
	}
	return parseCoreTimes(data, cpu)
}

// parseCoreTimes finds core cpu's line in the content of /proc/stat.
func parseCoreTimes(data []byte, cpu int) (coreTimes, error) {
	name := fmt.Sprintf("cpu%d", cpu)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != name {
			continue
		}
		var v [8]int64
		for i := range v {
			n, err := strconv.ParseInt(f[1+i], 10, 64)
			if err != nil {
				return coreTimes{}, fmt.Errorf("/proc/stat %s: %w", name, err)
			}
			v[i] = n
		}
		// user nice system idle iowait irq softirq steal
		busy := v[0] + v[1] + v[2] + v[5] + v[6]
		return coreTimes{busy: time.Duration(busy) * clockTick, steal: time.Duration(v[7]) * clockTick}, nil
	}
	return coreTimes{}, fmt.Errorf("/proc/stat has no %s", name)
}

// othersShare is the share of a window of elapsed that the core spent on
// work other than the server's (server: its CPU time in the window),
// stolen time included, from the core's times before and after.
func othersShare(before, after coreTimes, server, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	others := (after.busy - before.busy) - server + (after.steal - before.steal)
	return round(max(float64(others)/float64(elapsed), 0), 3)
}

//go:build race

package sfu

// raceEnabled: the race detector makes sync.Pool drop items, so code that
// pools allocates now and then.
const raceEnabled = true

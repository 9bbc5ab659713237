package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the meetd process under load.
type server struct {
	pid int
	url string // ws://host:port/ws
	// pprof is the address meetd serves profiles on, if asked.
	pprof string
	cmd   *exec.Cmd
}

// unlimited lifts meetd's limits per client address.
var unlimited = []string{
	"MEETD_IP_MAX_CONNECTIONS=0", "MEETD_IP_MAX_ROOMS=0", "MEETD_IP_ROOMS_PER_MINUTE=0", "MEETD_IP_MAX_SESSIONS=0",
	"MEETD_IP_WRONG_PASSWORDS=0", "MEETD_ROOM_WRONG_PASSWORDS=0",
	// Light viewers come by the thousand.
	"MEETD_MAX_PARTICIPANTS=100000",
}

// startServer runs bin with extra flags on a free loopback port, pinned to
// cpu with taskset when cpu >= 0, and waits until it answers /healthz.
func startServer(bin string, extra []string, cpu int, pprof bool, log io.Writer) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-addr", addr, "-ice-loopback", "-ice-interfaces", "lo", "-log-level", "warn"}
	s := &server{url: "ws://" + addr + "/ws"}
	if pprof {
		pport, err := freePort()
		if err != nil {
			return nil, err
		}
		s.pprof = fmt.Sprintf("127.0.0.1:%d", pport)
		args = append(args, "-pprof", s.pprof)
	}
	args = append(args, extra...)
	name := bin
	if cpu >= 0 {
		if _, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{"-c", strconv.Itoa(cpu), bin}, args...)
			name = "taskset"
		}
	}
	s.cmd = exec.Command(name, args...)
	// Every client of a load run comes from 127.0.0.1: lift meetd's limits
	// per client address. By environment rather than by flag, so that an
	// older meetd, which has neither, still starts; -meetd-args wins.
	s.cmd.Env = append(os.Environ(), unlimited...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	// taskset execs meetd in place, so the pid is meetd's.
	s.pid = s.cmd.Process.Pid
	if err := waitHealthy("http://"+addr+"/healthz", 10*time.Second); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends meetd: SIGTERM, then SIGKILL after 10 s.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("meetd did not stop in 10 s; killed")
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitHealthy(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("meetd did not answer %s in %s: %v", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clockTick is the unit of utime and stime in /proc (USER_HZ), 100 on Linux.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time, user and system, that process pid has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return statCPU(data)
}

// statCPU is the CPU time, user and system, in the content of a
// /proc/PID/stat file.
func statCPU(data []byte) (time.Duration, error) {
	// The command name in parentheses may hold spaces; fields follow the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// waitIdle waits until process pid used no clock tick of CPU (10 ms; under
// 5% of a core) over a fifth of a second, or timeout passed.
func waitIdle(pid int, timeout time.Duration) {
	const step = 200 * time.Millisecond
	deadline := time.Now().Add(timeout)
	last, err := procCPU(pid)
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(step)
		var now time.Duration
		if now, err = procCPU(pid); err == nil && now-last < clockTick {
			return
		}
		last = now
	}
}

// procRSS is the resident memory of process pid, in bytes.
func procRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// fetchProfile saves a CPU profile of seconds from meetd's pprof listener.
func fetchProfile(addr string, seconds int, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadAvg is the machine's 1-minute load average, 0 if unknown.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

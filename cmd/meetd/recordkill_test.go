package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRecordKilled kills meetd (SIGKILL: no file is closed) in the middle
// of a recording: every file written so far still decodes, and the next
// meetd on the same directory closes the recording's manifest and lists
// it as done.
func TestRecordKilled(t *testing.T) {
	ffmpeg, ffprobe := needFFmpeg(t)
	checkLeaks(t)
	cl := makeClip(t, ffmpeg)
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal([]string{"-addr", "127.0.0.1:0", "-ice-loopback", "-ice-interfaces", "lo",
		"-state-dir", testStateDir, "-record-dir", dir, "-ffmpeg", "none", "-record-min-free", "0"})
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperRole+"=meetd", helperArgs+"="+string(args))
	if os.Getenv("MEETD_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	}()
	lines := make(chan string, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	ready := waitLine(t, lines, "meetd to start", 30*time.Second, func(l string) bool { return strings.HasPrefix(l, "READY ") })
	addr := strings.TrimPrefix(ready, "READY ")
	url, base := "ws://"+addr+"/ws", "http://"+addr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ana := clipClient(t, ctx, url, "standup", "Ana", cl)
	defer ana.Close()
	if err := ana.WaitMedia(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := ana.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	on, err := ana.WaitRecording(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "3 s of camera in the recording", func() bool {
		l := listRecordings(t, base, nil)
		for _, tr := range l.Recordings[0].Tracks {
			if tr.Kind == "camera" && tr.Duration >= 3 {
				return true
			}
		}
		return false
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()

	files, _ := filepath.Glob(filepath.Join(dir, on.ID, "*.webm"))
	if len(files) != 2 {
		t.Fatalf("files %v, want a camera and a microphone", files)
	}
	for _, f := range files {
		if e := decodeErrors(t, ffmpeg, f); e != "" {
			t.Errorf("%s, cut by the kill, does not decode cleanly: %s", filepath.Base(f), e)
		}
		p := probe(t, ffprobe, f)
		if len(p.Streams) != 1 {
			t.Errorf("%s: streams %+v", filepath.Base(f), p.Streams)
		}
	}

	// The next meetd closes the recording cut short.
	m := runMeetd(t, Config{Record: RecordConfig{Enabled: true, Dir: dir, FFmpeg: "none"}})
	l := listRecordings(t, "http://"+m.Addr(), nil)
	if len(l.Recordings) != 1 || l.Recordings[0].State != "done" || l.Recordings[0].End == nil || len(l.Recordings[0].Tracks) != 2 {
		t.Fatalf("after the restart: %+v", l.Recordings)
	}
	ana.Close()
}

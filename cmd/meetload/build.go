package main

import (
	"debug/buildinfo"
	"fmt"
	"runtime/debug"
	"strings"
)

// buildStamp says which build of meetd a run measured: the VCS revision
// and modified flag in the binary's build information (as `go version -m`
// shows it), so that figures are never taken for another build's. The Go
// toolchain stamps them (vcs.revision, vcs.modified) except in a git
// worktree or with -buildvcs=false; the Makefile then passes them as
// linker flags, -X main.vcsRevision=... -X main.vcsModified=..., which the
// build information records too.
type buildStamp struct {
	Path      string `json:"path"`
	GoVersion string `json:"go,omitempty"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified"`
	// Error says why the binary's build information could not be read.
	Error string `json:"error,omitempty"`
}

// readBuild reads the build information of the binary at path.
func readBuild(path string) buildStamp {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return buildStamp{Path: path, Error: err.Error()}
	}
	return stampOf(path, info)
}

func stampOf(path string, info *debug.BuildInfo) buildStamp {
	b := buildStamp{Path: path, GoVersion: info.GoVersion}
	var ldflags string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		case "-ldflags":
			ldflags = s.Value
		}
	}
	if b.Revision != "" {
		return b
	}
	for _, f := range strings.Fields(ldflags) {
		if v, ok := strings.CutPrefix(f, "main.vcsRevision="); ok {
			b.Revision = v
		}
		if v, ok := strings.CutPrefix(f, "main.vcsModified="); ok {
			b.Modified = v == "true"
		}
	}
	return b
}

func (b buildStamp) String() string {
	switch {
	case b.Error != "":
		return fmt.Sprintf("%s: build unknown (%s)", b.Path, b.Error)
	case b.Revision == "":
		return fmt.Sprintf("%s: no VCS revision stamped (built outside git, or with -buildvcs=false), %s", b.Path, b.GoVersion)
	}
	s := fmt.Sprintf("%s: revision %s", b.Path, b.Revision)
	if b.Time != "" {
		s += " (" + b.Time + ")"
	}
	if b.Modified {
		s += ", MODIFIED: built with changes not committed"
	}
	return s + ", " + b.GoVersion
}

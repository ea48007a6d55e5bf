package docker

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"spirit/internal/dockertest"
	"spirit/target"
)

// plantedMarker is the file a planted agent binary writes when it is run.
const plantedMarker = "/planted-ran"

// TestAgentPlanted: a binary already at the agent's path in a container
// is run only when it is the agent (same content), owned by the
// container's root and writable by no one else, in a directory of the
// same kind; otherwise it is copied afresh before anything runs it. The
// planted binaries have the agent's name and size: the old check looked
// at nothing else.
func TestAgentPlanted(t *testing.T) {
	t.Parallel()
	agent, err := os.ReadFile(testAgentBin)
	if err != nil {
		t.Fatal(err)
	}
	// A script that leaves a mark, padded to the agent's size.
	script := []byte("#!/bin/sh\necho ran >" + plantedMarker + "\n")
	script = append(script, bytes.Repeat([]byte("\n"), len(agent)-len(script))...)
	tests := []struct {
		name    string
		content []byte
		setup   string // run in the container after the binary is there; $1 is its path
	}{
		{name: "other content", content: script},
		{name: "other content, another owner", content: script, setup: `chown 1000:1000 "$1"`},
		{name: "another owner", content: agent, setup: `chown 1000:1000 "$1"`},
		{name: "group-writable", content: agent, setup: `chmod 775 "$1"`},
		{name: "others-writable", content: agent, setup: `chmod 757 "$1"`},
		{name: "directory of another owner", content: agent, setup: `chown 1000:1000 "${1%/*}"`},
		{name: "directory writable by others", content: agent, setup: `chmod 777 "${1%/*}"`},
		{name: "a link", content: agent, setup: `mv "$1" /elsewhere && ln -s /elsewhere "$1"`},
	}
	exe := agentExe(t)
	for _, way := range ways {
		for _, tt := range tests {
			t.Run(way.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				checkPlanted(t, way.noSocket, exe, tt.content, tt.setup, agent)
			})
		}
	}
}

// checkPlanted plants content at exe in a new container, runs setup with
// exe as $1, and checks that the first command through the agent does not
// run the planted binary and leaves the agent (whose content is agent)
// there instead, root's and 0755, in a directory of the same kind.
func checkPlanted(t *testing.T, noSocket bool, exe string, content []byte, setup string, agent []byte) {
	t.Helper()
	name := dockertest.Container(t, "")
	plain := New(Options{}) // the Engine's exec and archive, to plant and look
	t.Cleanup(func() { _ = plain.Close() })
	look := plain.Target(name)
	mustRun(t, look, "mkdir -p "+path.Dir(exe))
	writeFile(t, look, exe, target.Write, content)
	mustRun(t, look, fmt.Sprintf(`set -e; chmod 755 %[1]s; set -- %[1]s; %[2]s`, exe, setup))

	tgt := agentBackend(t, noSocket).Target(name)
	if got := mustRun(t, tgt, "echo here"); got != "here\n" {
		t.Fatalf("first command: %q", got)
	}
	if got := mustRun(t, look, "[ -e "+plantedMarker+" ] && echo the planted binary ran || true"); got != "" {
		t.Errorf("%s", got)
	}
	sum := sha256.Sum256(agent)
	want := fmt.Sprintf("%s 0 755 0 755", hex.EncodeToString(sum[:]))
	got := mustRun(t, look, fmt.Sprintf(`set -- %s; [ -L "$1" ] && echo a link; echo $(sha256sum "$1" | cut -d' ' -f1) $(stat -c '%%u %%a' "$1" "${1%%/*}")`, exe))
	if strings.TrimSpace(got) != want {
		t.Errorf("the binary in the container (sha256, owner, mode, then its directory's): %q, want %q", got, want)
	}
	before := time.Now()
	mustRun(t, tgt, "true")
	if n := dockertest.ExecsSince(t, name, before); n > 0 {
		t.Errorf("a command after the first made Engine execs %v: the agent copied afresh is not used", n)
	}
}

// agentExe is where the test agent is put in a container's root.
func agentExe(t *testing.T) string {
	t.Helper()
	bin, err := New(Options{AgentBinary: testAgentBin}).agentBinary()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := bin.path(agentDirs[0])
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

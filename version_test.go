package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs("vcs.revision", rev)}, true, "v1.4.0"},
		{"clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "false")}, true, "0123456789ab"},
		{"modified checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "true")}, true, "0123456789ab-dirty"},
		{"short revision kept whole", &debug.BuildInfo{Settings: vcs("vcs.revision", "abc")}, true, "abc"},
		{"pseudo-version of a commit", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207182751-344a76053a63"}, Settings: vcs("vcs.revision", rev)}, true, "0123456789ab"},
		{"pseudo-version after a tag, dirty", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261207182751-344a76053a63+dirty"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "true")}, true, "0123456789ab-dirty"},
		{"tagged and dirty", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3+dirty"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "true")}, true, "v1.2.3+dirty"},
		{"no vcs stamp", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev"},
		{"modified without revision", &debug.BuildInfo{Settings: vcs("vcs.modified", "true")}, true, "dev"},
		{"no build info", nil, false, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionFrom(tt.info, tt.ok); got != tt.want {
				t.Errorf("versionFrom = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionOfCheckout builds chatvault in a fresh git repository holding
// this source, as a user building from a clone does, and checks --version
// names the commit, then "-dirty" once the tree is changed.
func TestVersionOfCheckout(t *testing.T) {
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	files := strings.Split(git(".", "ls-files", "-co", "--exclude-standard"), "\n")
	clone := t.TempDir()
	for _, f := range files {
		// Everything a build may embed; test data is not needed to build.
		if f == "" || strings.HasPrefix(f, "testdata/") || strings.Contains(f, "/testdata/") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue // listed but deleted in the working tree
		}
		os.MkdirAll(filepath.Join(clone, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(clone, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(clone, "init", "-q")
	git(clone, "add", ".")
	git(clone, "commit", "-q", "-m", "snapshot of the source")
	head := git(clone, "rev-parse", "HEAD")[:12]

	version := func() string {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "chatvault")
		// -buildvcs=true overrides a GOFLAGS that turns stamping off;
		// -trimpath lets the build cache serve every run after the first.
		build := exec.Command("go", "build", "-buildvcs=true", "-trimpath", "-o", bin, ".")
		build.Dir = clone
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build in the clone: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			t.Fatalf("chatvault --version: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if got, want := version(), "chatvault version "+head; got != want {
		t.Errorf("clean clone: %q, want %q", got, want)
	}
	os.WriteFile(filepath.Join(clone, "NOTES"), []byte("local change\n"), 0o644)
	if got, want := version(), "chatvault version "+head+"-dirty"; got != want {
		t.Errorf("modified clone: %q, want %q", got, want)
	}
	if got := runVersion(t); !regexp.MustCompile(`^chatvault version \S+\n$`).MatchString(got) {
		t.Errorf("in-process --version printed %q", got)
	}
}

func runVersion(t *testing.T) string {
	code, out, _ := runCLI(t, "--version")
	if code != 0 {
		t.Errorf("--version exit %d", code)
	}
	return out
}

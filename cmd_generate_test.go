package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDocsCurrent fails when docs/ no longer matches what the binary
// generates: a flag or command changed without `go test -run TestDocsCurrent
// -update` (or `chatvault generate --markdown docs --man docs`).
func TestDocsCurrent(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, "generate", "--markdown", dir, "--man", dir); code != 0 {
		t.Fatalf("generate exit %d: %s", code, errOut)
	}
	for _, name := range []string{"cli.md", "chatvault.1"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("docs", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestDocsCurrent -update to create it)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale: regenerate it with go test -run TestDocsCurrent -update", path)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "cli.md"))
	for _, want := range []string{"## backup", "## export", "--format", "## generate", "**CHATVAULT_ARCHIVE**: default of --archive", "**TWILIO_AUTH_TOKEN**: default of --auth-token"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("cli.md lacks %q", want)
		}
	}
	man, _ := os.ReadFile(filepath.Join(dir, "chatvault.1"))
	for _, want := range []string{".SH ENVIRONMENT\n.TP\n.B CHATVAULT_ARCHIVE\ndefault of \\-\\-archive\n", ".B TWILIO_AUTH_TOKEN\ndefault of \\-\\-auth\\-token\n"} {
		if !strings.Contains(string(man), want) {
			t.Errorf("chatvault.1 lacks %q", want)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing asked", []string{"generate"}, exitUsage, "--man DIR"},
		{"unknown shell", []string{"generate", "--completion", "tcsh"}, exitUsage, `"tcsh" is not a shell`},
		{"man into a file", []string{"generate", "--man", filepath.Join(file, "sub")}, exitFailure, "cannot create"},
		{"bad shell writes nothing", []string{"generate", "--completion", "csh", "--man", filepath.Join(t.TempDir(), "m")}, exitUsage, "csh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

// TestCompletionScripts checks that each shell accepts its script, and that
// the bash script, loaded in bash, completes commands and flags by asking
// the built binary.
func TestCompletionScripts(t *testing.T) {
	checked := 0
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			code, script, errOut := runCLI(t, "generate", "--completion", shell)
			if code != 0 || !strings.Contains(script, "chatvault") {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			sh, err := exec.LookPath(shell)
			if err != nil {
				if shell == "bash" {
					t.Fatal("bash is needed to check the bash completion")
				}
				return // zsh and fish are checked where installed
			}
			checked++
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n refuses the script: %v\n%s", shell, err, out)
			}
		})
	}
	if checked == 0 {
		t.Fatal("no shell checked a completion script")
	}

	_, script, _ := runCLI(t, "generate", "--completion", "bash")
	tests := []struct {
		words string
		want  []string
		not   []string
	}{
		{"chatvault ba", []string{"backup"}, []string{"restore"}},
		{"chatvault ", []string{"backup", "export", "generate"}, nil},
		{"chatvault export --fo", []string{"--format"}, []string{"--full"}},
		{"chatvault backup --ch", []string{"--channel"}, []string{"--format"}},
	}
	for _, tt := range tests {
		t.Run(tt.words, func(t *testing.T) {
			words := strings.Fields(tt.words)
			if strings.HasSuffix(tt.words, " ") {
				words = append(words, "")
			}
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = "'" + w + "'"
			}
			prog := script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) +
				"\n_chatvault\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
			cmd := exec.Command("bash", "-c", prog)
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v", err)
			}
			got := strings.Fields(string(out))
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("completing %q offers %v, not %q", tt.words, got, w)
				}
			}
			for _, w := range tt.not {
				if slices.Contains(got, w) {
					t.Errorf("completing %q offers %q", tt.words, w)
				}
			}
		})
	}
}

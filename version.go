package main

import (
	"regexp"
	"runtime/debug"
)

func init() {
	if version == "" {
		version = versionFrom(debug.ReadBuildInfo())
	}
}

// pseudoVersion matches the version Go makes up for an untagged commit
// (v0.0.0-20261207182751-344a76053a63, optionally +dirty): the revision
// says the same, shorter.
var pseudoVersion = regexp.MustCompile(`[.-]\d{14}-[0-9a-f]{12}(\+dirty)?$`)

// versionFrom says which chatvault this is from its build info: the module
// version of a tagged build (go install …@v1.2.3), else the VCS revision
// the binary was built from, shortened, with "-dirty" when the tree had
// changes; "dev" when the build recorded neither (go run, go test).
func versionFrom(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" && !pseudoVersion.MatchString(v) {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

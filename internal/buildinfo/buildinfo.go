// Package buildinfo reports the version of the pgsurreal binary.
package buildinfo

import "runtime/debug"

// Version is set at link time (-ldflags "-X .../buildinfo.Version=v1.2.3");
// otherwise it comes from the module build information.
var Version = ""

// String returns the version, the VCS revision when known, and Go's version.
func String() string {
	v := Version
	rev := ""
	goVer := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVer = bi.GoVersion
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	out := "pgsurreal " + v
	if rev != "" {
		out += " (" + rev + ")"
	}
	if goVer != "" {
		out += " " + goVer
	}
	return out
}

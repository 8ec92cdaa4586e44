// Package version holds the version of god, set at build time with
// -ldflags "-X github.com/godocker/god/version.Version=...".
package version

// Version of this build.
var Version = "0.1.0-dev"

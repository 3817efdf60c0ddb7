// Command packaging builds the .deb and .rpm packages of zhizhi-agent and zhizhi (server) with nfpm:
// `go run ./deploy/packaging -version 0.1.0 -arch amd64 -out dist/` from the repository root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	version := flag.String("version", "0.1.0", "package version (semver)")
	arch := flag.String("arch", "amd64", "GOARCH to build for: amd64, arm64 or loong64")
	out := flag.String("out", "dist", "directory for the packages")
	formats := flag.String("formats", "deb,rpm", "comma-separated package formats")
	agentBin := flag.String("agent-bin", "", "prebuilt zhizhi-agent binary (default: go build ./cmd/zhizhi-agent)")
	serverBin := flag.String("server-bin", "", "prebuilt zhizhi binary (default: go build ./cmd/zhizhi)")
	flag.Parse()
	bins := map[string]string{"zhizhi-agent": *agentBin, "zhizhi": *serverBin}
	paths, err := buildAll(context.Background(), ".", *version, *arch, strings.Split(*formats, ","), bins, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "packaging:", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}

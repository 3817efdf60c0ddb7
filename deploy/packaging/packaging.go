package main

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager

	"zhizhi/agent/install"
	"zhizhi/deploy/systemd"
)

//go:embed scripts/*.sh
var scriptFS embed.FS

// product describes one package: which binary, which unit, which user and state directory.
type product struct {
	Name          string // package and binary name
	Cmd           string // Go package of the binary, relative to the module root
	Description   string
	Unit          string // unit file name
	UnitData      []byte
	User          string
	StateDir      string
	GroupFiles    []string // conffiles the service user reads (group-owned, 0640)
	PurgeFiles    []string // files written after installation that a purge removes
	StartWhen     string   // postinst starts the service only if this file is non-empty; "" never starts it
	PurgeStateDir bool     // purge deletes StateDir (the agent's spool) or keeps it (the server's data)
	Configs       map[string][]byte
}

// products are the agent and the server.
func products() []product {
	sample := append([]byte("# Set `server:` to your zhizhi server and put the agent's token in "+install.TokenPath+
		",\n# then: systemctl start zhizhi-agent\n"),
		install.RenderConfig(install.Options{Server: "http://zhizhi-server.example:8080", MetricsListen: "127.0.0.1:9469"})...)
	return []product{{
		Name:        "zhizhi-agent",
		Cmd:         "./cmd/zhizhi-agent",
		Description: "zhizhi agent: collects host resources and delivers every sample to the zhizhi server",
		Unit:        systemd.AgentUnitName, UnitData: systemd.AgentUnit,
		User: install.ServiceUser, StateDir: install.SpoolDir,
		GroupFiles:    []string{install.ConfigPath},
		PurgeFiles:    []string{install.TokenPath},
		StartWhen:     install.TokenPath,
		PurgeStateDir: true,
		Configs:       map[string][]byte{install.ConfigPath: sample},
	}, {
		Name:        "zhizhi",
		Cmd:         "./cmd/zhizhi",
		Description: "zhizhi server: ingest, embedded store, analyzer, alerts and web console",
		Unit:        systemd.ServerUnitName, UnitData: systemd.ServerUnit,
		User: "zhizhi", StateDir: "/var/lib/zhizhi",
	}}
}

// goBuild compiles the Go package pkg (relative to dir) for linux/goarch into out, statically and stripped.
func goBuild(ctx context.Context, dir, pkg, goarch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", pkg, goarch, err, b)
	}
	return nil
}

// script renders the maintainer script name (postinst, prerm, postrm) for p into dir and returns its path.
func script(p product, name, dir string) (string, error) {
	tmpl, err := template.ParseFS(scriptFS, "scripts/"+name+".sh")
	if err != nil {
		return "", fmt.Errorf("script %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, p); err != nil {
		return "", fmt.Errorf("script %s of %s: %w", name, p.Name, err)
	}
	path := filepath.Join(dir, p.Name+"."+name)
	return path, os.WriteFile(path, buf.Bytes(), 0o755)
}

// info describes the package of p for format (deb or rpm) with the binary at bin; auxiliary files are
// staged in stage.
func info(p product, version, goarch, format, bin, stage string) (*nfpm.Info, error) {
	unitPath := filepath.Join(stage, p.Unit)
	if err := os.WriteFile(unitPath, p.UnitData, 0o644); err != nil {
		return nil, err
	}
	unitDir := "/usr/lib/systemd/system/"
	if format == "deb" {
		unitDir = "/lib/systemd/system/" // Debian 12 and UOS/Kylin (deb) ship units here
	}
	contents := files.Contents{
		{Source: bin, Destination: "/usr/bin/" + p.Name, FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		{Source: unitPath, Destination: unitDir + p.Unit, FileInfo: &files.ContentFileInfo{Mode: 0o644}},
		{Destination: "/etc/zhizhi", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755}},
		{Destination: p.StateDir, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o750}},
	}
	for dst, data := range p.Configs {
		src := filepath.Join(stage, p.Name+"-"+filepath.Base(dst))
		if err := os.WriteFile(src, data, 0o640); err != nil {
			return nil, err
		}
		contents = append(contents, &files.Content{Source: src, Destination: dst, Type: files.TypeConfigNoReplace,
			FileInfo: &files.ContentFileInfo{Mode: 0o640}})
	}
	var scripts nfpm.Scripts
	for name, field := range map[string]*string{"postinst": &scripts.PostInstall, "prerm": &scripts.PreRemove, "postrm": &scripts.PostRemove} {
		path, err := script(p, name, stage)
		if err != nil {
			return nil, err
		}
		*field = path
	}
	in := &nfpm.Info{
		Name:        p.Name,
		Arch:        goarch,
		Platform:    "linux",
		Version:     version,
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  "zhizhi maintainers <zhizhi@localhost>",
		Description: p.Description,
		Vendor:      "zhizhi",
		License:     "Proprietary",
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts:  scripts,
			Depends:  []string{"passwd"}, // useradd, userdel
		},
	}
	if format == "rpm" {
		in.Depends = []string{"shadow-utils"}
	}
	in = nfpm.WithDefaults(in)
	if err := nfpm.PrepareForPackager(in, format); err != nil {
		return nil, fmt.Errorf("%s %s: %w", p.Name, format, err)
	}
	return in, nil
}

// build writes the package of p in format to outDir and returns its path.
func build(p product, version, goarch, format, bin, outDir string) (string, error) {
	stage, err := os.MkdirTemp("", "zhizhi-pkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	in, err := info(p, version, goarch, format, bin, stage)
	if err != nil {
		return "", err
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	target := filepath.Join(outDir, packager.ConventionalFileName(in))
	f, err := os.Create(target)
	if err != nil {
		return "", err
	}
	in.Target = target
	if err := packager.Package(in, f); err != nil {
		f.Close()
		os.Remove(target)
		return "", fmt.Errorf("package %s %s: %w", p.Name, format, err)
	}
	return target, f.Close()
}

// buildAll compiles (unless bins names a prebuilt binary per product) and packages every product in every
// format, returning the package paths.
func buildAll(ctx context.Context, root, version, goarch string, formats []string, bins map[string]string, outDir string) ([]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	binDir, err := os.MkdirTemp("", "zhizhi-bin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(binDir)
	var out []string
	for _, p := range products() {
		bin := bins[p.Name]
		if bin == "" {
			bin = filepath.Join(binDir, p.Name)
			if err := goBuild(ctx, root, p.Cmd, goarch, bin); err != nil {
				return nil, err
			}
		}
		for _, format := range formats {
			path, err := build(p, strings.TrimPrefix(version, "v"), goarch, format, bin, outDir)
			if err != nil {
				return nil, err
			}
			out = append(out, path)
		}
	}
	return out, nil
}

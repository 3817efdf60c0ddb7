// Package install plans and applies the installation of zhizhi-agent as a systemd service, and its removal.
package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"zhizhi/deploy/systemd"
)

// Fixed paths of an installed agent; the unit (deploy/systemd/zhizhi-agent.service) refers to them.
const (
	BinaryPath  = "/usr/bin/zhizhi-agent"
	ConfigDir   = "/etc/zhizhi"
	ConfigPath  = "/etc/zhizhi/agent.yaml"
	TokenPath   = "/etc/zhizhi/agent.token"
	SpoolDir    = "/var/lib/zhizhi-agent"
	UnitPath    = "/etc/systemd/system/" + systemd.AgentUnitName
	ServiceUser = "zhizhi-agent"
)

// packagedUnits are where the .deb/.rpm put the unit; their presence means the agent is managed by a package.
var packagedUnits = []string{"/lib/systemd/system/" + systemd.AgentUnitName, "/usr/lib/systemd/system/" + systemd.AgentUnitName}

// DefaultInterval is the collection interval written when Options.Interval is zero.
const DefaultInterval = 15 * time.Second

// Options describes an installation. The zero value of every optional field selects its default.
type Options struct {
	// Server is the base URL of the zhizhi server (http or https), written as `server:`. Required by Plan.
	Server string
	// TokenFile is the agent's enrollment token file; Plan copies it to TokenPath (mode 0600, owned by
	// ServiceUser). Required by Plan; if it already is TokenPath only its mode and owner are fixed.
	TokenFile string
	// Interval is the collection interval (`interval:`); at least one second; DefaultInterval when zero.
	Interval time.Duration
	// MetricsListen is the address of the agent's Prometheus /metrics endpoint (`metrics: {listen: ...}`),
	// e.g. "127.0.0.1:9469"; empty leaves the endpoint off.
	MetricsListen string
	// Executable is the agent binary to install as BinaryPath (usually os.Executable()); empty or equal to
	// BinaryPath copies nothing.
	Executable string
	// Root installs into this directory instead of "/": every path is prefixed with it, and the steps that
	// change the running system (creating the user, ownership, systemctl) are left out. For tests and images.
	Root string
	// Purge makes PlanUninstall also delete the configuration, the token, the spool (unsent samples) and the
	// service user.
	Purge bool
}

// Kind is what an Action does.
type Kind int

// Kinds of Action.
const (
	// EnsureUser creates the system user Action.User (useradd) unless it exists.
	EnsureUser Kind = iota + 1
	// Mkdir creates the directory Path (and parents) and sets its mode and owner, also when it exists.
	Mkdir
	// EnsureDir creates the directory Path (and parents) with Mode if it is missing; an existing one is
	// left as it is.
	EnsureDir
	// WriteFile atomically writes Data to Path with Mode, Owner and Group.
	WriteFile
	// CopyFile atomically copies Src to Path with Mode, Owner and Group.
	CopyFile
	// Run runs the command Args through the Runner.
	Run
	// Remove deletes the file Path; a missing file is fine.
	Remove
	// RemoveAll deletes Path and everything under it.
	RemoveAll
	// RemoveEmptyDir deletes the directory Path if it is empty.
	RemoveEmptyDir
	// DeleteUser deletes the user Action.User (userdel) if it exists.
	DeleteUser
)

// Action is one step of an installation or removal. Paths are final (Options.Root already applied).
type Action struct {
	Kind  Kind
	Path  string
	Src   string // CopyFile source
	Data  []byte // WriteFile content
	Mode  fs.FileMode
	Owner string // owning user name; empty keeps the process's (root's) ownership
	Group string // owning group name; empty keeps the process's group
	User  string // EnsureUser / DeleteUser
	Args  []string
	// IgnoreError lets Apply continue when this step fails (e.g. stopping a service that is not loaded).
	IgnoreError bool
	// Secret marks file content that must never be printed (the token).
	Secret bool
}

// String describes the action in one human-readable line, as --dry-run prints it. Secrets are not shown.
func (a Action) String() string {
	own := func() string {
		if a.Owner == "" && a.Group == "" {
			return ""
		}
		return fmt.Sprintf(", owner %s:%s", or(a.Owner, "root"), or(a.Group, "root"))
	}
	var s string
	switch a.Kind {
	case EnsureUser:
		s = fmt.Sprintf("create system user %s unless it exists: %s", a.User, strings.Join(a.Args, " "))
	case Mkdir:
		s = fmt.Sprintf("create directory %s (mode %04o%s)", a.Path, a.Mode.Perm(), own())
	case EnsureDir:
		s = fmt.Sprintf("create directory %s unless it exists (mode %04o)", a.Path, a.Mode.Perm())
	case WriteFile:
		s = fmt.Sprintf("write %s (%d bytes, mode %04o%s)", a.Path, len(a.Data), a.Mode.Perm(), own())
	case CopyFile:
		s = fmt.Sprintf("copy %s to %s (mode %04o%s)", a.Src, a.Path, a.Mode.Perm(), own())
	case Run:
		s = "run " + strings.Join(a.Args, " ")
	case Remove:
		s = "remove " + a.Path
	case RemoveAll:
		s = "remove " + a.Path + " and everything in it"
	case RemoveEmptyDir:
		s = "remove directory " + a.Path + " if empty"
	case DeleteUser:
		s = fmt.Sprintf("delete user %s if it exists: %s", a.User, strings.Join(a.Args, " "))
	default:
		s = fmt.Sprintf("unknown action %d", a.Kind)
	}
	if a.IgnoreError {
		s += " (failure ignored)"
	}
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Plan returns the steps that install the agent as described by opts, in order: user, directories, binary,
// configuration, token, spool, unit, daemon-reload, enable, restart. It checks opts and the token file but
// changes nothing.
func Plan(opts Options) ([]Action, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := refusePackaged(opts.Root); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(opts.TokenFile); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	} else if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, fmt.Errorf("token file %s: not a non-empty regular file", opts.TokenFile)
	}
	real := opts.Root == ""
	user, group := ServiceUser, ServiceUser
	if !real {
		user, group = "", ""
	}
	p := func(path string) string { return rooted(opts.Root, path) }
	var acts []Action
	if real {
		acts = append(acts, Action{Kind: EnsureUser, User: ServiceUser, Args: []string{"useradd", "--system",
			"--user-group", "--no-create-home", "--home-dir", SpoolDir, "--shell", "/usr/sbin/nologin",
			"--comment", "zhizhi-agent", ServiceUser}})
	}
	acts = append(acts, Action{Kind: EnsureDir, Path: p(ConfigDir), Mode: 0o755})
	if opts.Executable != "" && filepath.Clean(opts.Executable) != p(BinaryPath) {
		acts = append(acts,
			Action{Kind: EnsureDir, Path: p(filepath.Dir(BinaryPath)), Mode: 0o755},
			Action{Kind: CopyFile, Src: opts.Executable, Path: p(BinaryPath), Mode: 0o755})
	}
	acts = append(acts,
		Action{Kind: WriteFile, Path: p(ConfigPath), Data: RenderConfig(opts), Mode: 0o640, Group: group},
		Action{Kind: CopyFile, Src: opts.TokenFile, Path: p(TokenPath), Mode: 0o600, Owner: user, Group: group, Secret: true},
		Action{Kind: Mkdir, Path: p(SpoolDir), Mode: 0o750, Owner: user, Group: group},
		Action{Kind: EnsureDir, Path: p(filepath.Dir(UnitPath)), Mode: 0o755},
		Action{Kind: WriteFile, Path: p(UnitPath), Data: systemd.AgentUnit, Mode: 0o644},
	)
	if real {
		acts = append(acts,
			Action{Kind: Run, Args: []string{"systemctl", "daemon-reload"}},
			Action{Kind: Run, Args: []string{"systemctl", "enable", systemd.AgentUnitName}},
			// restart, not start: a reinstall with a new server or token must reach the running agent.
			Action{Kind: Run, Args: []string{"systemctl", "restart", systemd.AgentUnitName}})
	}
	return acts, nil
}

// PlanUninstall returns the steps that reverse Plan: stop and disable the service, remove the unit and the
// binary; with opts.Purge also the configuration, token, spool and service user. Only opts.Root and
// opts.Purge are used.
func PlanUninstall(opts Options) ([]Action, error) {
	if err := refusePackaged(opts.Root); err != nil {
		return nil, err
	}
	real := opts.Root == ""
	p := func(path string) string { return rooted(opts.Root, path) }
	var acts []Action
	if real {
		acts = append(acts, Action{Kind: Run, Args: []string{"systemctl", "disable", "--now", systemd.AgentUnitName}, IgnoreError: true})
	}
	acts = append(acts, Action{Kind: Remove, Path: p(UnitPath)})
	if real {
		acts = append(acts, Action{Kind: Run, Args: []string{"systemctl", "daemon-reload"}, IgnoreError: true})
	}
	acts = append(acts, Action{Kind: Remove, Path: p(BinaryPath)})
	if opts.Purge {
		acts = append(acts,
			Action{Kind: Remove, Path: p(ConfigPath)},
			Action{Kind: Remove, Path: p(TokenPath)},
			Action{Kind: RemoveEmptyDir, Path: p(ConfigDir)},
			Action{Kind: RemoveAll, Path: p(SpoolDir)})
		if real {
			acts = append(acts, Action{Kind: DeleteUser, User: ServiceUser, Args: []string{"userdel", ServiceUser}})
		}
	}
	return acts, nil
}

func (o Options) validate() error {
	if o.Server == "" {
		return errors.New("server: required (URL of the zhizhi server)")
	}
	u, err := url.Parse(o.Server)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("server: %q is not an http:// or https:// URL", o.Server)
	}
	if o.TokenFile == "" {
		return errors.New("token file: required")
	}
	if o.Interval != 0 && o.Interval < time.Second {
		return fmt.Errorf("interval: %s is below 1s", o.Interval)
	}
	if o.Root != "" && !filepath.IsAbs(o.Root) {
		return fmt.Errorf("root: %q is not an absolute path", o.Root)
	}
	return nil
}

// refusePackaged fails when a distribution package manages the agent: its files must be changed by apt/dnf.
func refusePackaged(root string) error {
	for _, u := range packagedUnits {
		if _, err := os.Stat(rooted(root, u)); err == nil {
			return fmt.Errorf("%s exists: zhizhi-agent is installed from a package; use the package manager", u)
		}
	}
	return nil
}

func rooted(root, path string) string {
	if root == "" {
		return path
	}
	return filepath.Join(root, path)
}

// RenderConfig returns the agent configuration YAML for opts (keys server, token_file, interval, spool.dir
// and, when set, metrics.listen).
func RenderConfig(opts Options) []byte {
	interval := opts.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	var b strings.Builder
	b.WriteString("# zhizhi-agent configuration, written by `zhizhi-agent install`.\n")
	b.WriteString("# `zhizhi-agent sample-config` prints every key with its documentation.\n")
	fmt.Fprintf(&b, "server: %s\n", quote(opts.Server))
	fmt.Fprintf(&b, "token_file: %s\n", quote(TokenPath))
	fmt.Fprintf(&b, "interval: %s\n", interval)
	fmt.Fprintf(&b, "spool:\n  dir: %s\n", quote(SpoolDir))
	if opts.MetricsListen != "" {
		fmt.Fprintf(&b, "metrics:\n  listen: %s\n", quote(opts.MetricsListen))
	}
	return []byte(b.String())
}

// quote renders s as a YAML double-quoted scalar (JSON strings are valid YAML).
func quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

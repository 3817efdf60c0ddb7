package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Runner runs an external command (useradd, userdel, systemctl).
type Runner interface {
	Run(ctx context.Context, args ...string) error
}

// ExecRunner runs commands with os/exec; a failure's error carries the command's combined output.
type ExecRunner struct{}

// Run runs args[0] with args[1:].
func (ExecRunner) Run(ctx context.Context, args ...string) error {
	if len(args) == 0 {
		return errors.New("empty command")
	}
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Print writes one line per action, as --dry-run shows them.
func Print(w io.Writer, actions []Action) error {
	for i, a := range actions {
		if _, err := fmt.Fprintf(w, "%2d. %s\n", i+1, a); err != nil {
			return err
		}
	}
	return nil
}

// Apply performs actions in order and stops at the first failure that is not IgnoreError, naming the step.
// Users are looked up in the system's user database.
func Apply(ctx context.Context, actions []Action, r Runner) error {
	for i, a := range actions {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := apply(ctx, a, r); err != nil && !a.IgnoreError {
			return fmt.Errorf("step %d (%s): %w", i+1, a, err)
		}
	}
	return nil
}

func apply(ctx context.Context, a Action, r Runner) error {
	switch a.Kind {
	case EnsureUser:
		if _, err := user.Lookup(a.User); err == nil {
			return nil
		}
		return r.Run(ctx, a.Args...)
	case DeleteUser:
		if _, err := user.Lookup(a.User); err != nil {
			return nil
		}
		return r.Run(ctx, a.Args...)
	case Run:
		return r.Run(ctx, a.Args...)
	case Mkdir:
		if err := os.MkdirAll(a.Path, a.Mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(a.Path, a.Mode.Perm()); err != nil {
			return err
		}
		return chown(a.Path, a.Owner, a.Group)
	case EnsureDir:
		return os.MkdirAll(a.Path, a.Mode.Perm())
	case WriteFile:
		return writeAtomic(a.Path, bytes.NewReader(a.Data), a.Mode, a.Owner, a.Group)
	case CopyFile:
		src, err := os.Open(a.Src)
		if err != nil {
			return err
		}
		defer src.Close()
		if same, err := sameFile(src, a.Path); err != nil {
			return err
		} else if same {
			if err := os.Chmod(a.Path, a.Mode.Perm()); err != nil {
				return err
			}
			return chown(a.Path, a.Owner, a.Group)
		}
		return writeAtomic(a.Path, src, a.Mode, a.Owner, a.Group)
	case Remove:
		if err := os.Remove(a.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	case RemoveAll:
		return os.RemoveAll(a.Path)
	case RemoveEmptyDir:
		entries, err := os.ReadDir(a.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if len(entries) > 0 {
			return nil
		}
		return os.Remove(a.Path)
	}
	return fmt.Errorf("unknown action kind %d", a.Kind)
}

func sameFile(src *os.File, path string) (bool, error) {
	sfi, err := src.Stat()
	if err != nil {
		return false, err
	}
	dfi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return os.SameFile(sfi, dfi), nil
}

// writeAtomic writes r to a temporary file next to path with the final mode and owner, syncs it and renames
// it over path, so a reader never sees a partial file and a secret is never briefly readable by others.
func writeAtomic(path string, r io.Reader, mode fs.FileMode, owner, group string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode.Perm()); err != nil {
		return err
	}
	if err = chown(tmp, owner, group); err != nil {
		return err
	}
	if _, err = io.Copy(f, r); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// chown gives path to owner and group (names); empty names leave that id unchanged.
func chown(path, owner, group string) error {
	uid, gid := -1, -1
	if owner != "" {
		u, err := user.Lookup(owner)
		if err != nil {
			return fmt.Errorf("owner: %w", err)
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return fmt.Errorf("owner %s: uid %q: %w", owner, u.Uid, err)
		}
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("group: %w", err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return fmt.Errorf("group %s: gid %q: %w", group, g.Gid, err)
		}
	}
	if uid == -1 && gid == -1 {
		return nil
	}
	return os.Chown(path, uid, gid)
}
